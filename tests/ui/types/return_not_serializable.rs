use socketio_ns::{Context, HandlerError, namespace};

struct Secret;

#[derive(Debug)]
struct NotAnError;

#[derive(Default)]
struct Vault;

#[namespace("/vault")]
impl Vault {
    fn on_open(&mut self, _cx: &mut Context<Self>) -> Secret {
        Secret
    }

    async fn on_try_open(&mut self, _cx: &mut Context<Self>) -> Result<Secret, HandlerError> {
        Ok(Secret)
    }

    fn on_close(&mut self, _cx: &mut Context<Self>) -> Result<(), NotAnError> {
        Err(NotAnError)
    }
}

fn main() {}
