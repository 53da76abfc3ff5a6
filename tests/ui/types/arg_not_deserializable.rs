use socketio_ns::{Context, namespace};

struct Point {
    x: i32,
}

#[derive(Default)]
struct Plot;

#[namespace("/plot")]
impl Plot {
    fn on_point(&mut self, _cx: &mut Context<Self>, point: Point) -> i32 {
        point.x
    }

    fn on_label(&mut self, _cx: &mut Context<Self>, label: &str) -> usize {
        label.len()
    }
}

fn main() {}
