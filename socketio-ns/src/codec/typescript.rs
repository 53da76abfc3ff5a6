//! TypeScript types from Rust types, for the `.d.ts` export of declared namespaces (feature
//! `typescript`, through `ts-rs`). Pure string building: a namespace describes its events into
//! a [`TsNamespace`], which renders the file.
//!
//! Without the feature every item still exists, so that generated code compiles the same, and
//! does nothing.

use std::fmt::Write as _;

/// A Rust type's TypeScript, given the declarations collected so far (to which its named
/// types are added).
pub type TsType = fn(&mut TsNamespace) -> String;

/// A handler's ack, from its return type: `None` when it returns nothing.
pub type TsAck = fn(&mut TsNamespace) -> Option<String>;

/// One event: its name and each argument's name and type.
#[derive(Debug)]
struct TsEvent {
    name: &'static str,
    args: Vec<(String, String)>,
    ack: Option<String>,
}

/// What one namespace's `.d.ts` holds: the named types, the events each side sends, the auth.
#[derive(Debug, Default)]
pub struct TsNamespace {
    /// `export type Name = ...;` of every named type met, in the order first met.
    decls: Vec<(std::any::TypeId, String)>,
    client: Vec<TsEvent>,
    server: Vec<TsEvent>,
    auth: Option<String>,
}

/// The error object every ack may carry instead of its value (README, "Errors on the wire").
const ERROR_TYPE: &str = "export type HandlerError = { error: string; message: string };";

impl TsNamespace {
    /// An event the client sends: `args` in order, `ack` what its callback receives.
    pub fn client_event(&mut self, name: &'static str, args: &[(&str, TsType)], ack: TsAck) {
        let args = args
            .iter()
            .map(|(n, ty)| (n.to_string(), ty(self)))
            .collect();
        let ack = ack(self);
        self.client.push(TsEvent { name, args, ack });
    }

    /// An event the server sends.
    pub fn server_event(&mut self, name: &'static str, args: &[(&str, TsType)]) {
        let args = args
            .iter()
            .map(|(n, ty)| (n.to_string(), ty(self)))
            .collect();
        self.server.push(TsEvent {
            name,
            args,
            ack: None,
        });
    }

    /// The CONNECT auth payload `recv_connect` takes.
    pub fn auth(&mut self, ty: TsType) {
        self.auth = Some(ty(self));
    }

    /// The `.d.ts` text; `header` goes on top as a comment.
    pub fn render(&self, header: &str) -> String {
        let mut out = String::new();
        for line in header.lines() {
            let _ = writeln!(out, "// {line}");
        }
        out.push('\n');
        for (_, decl) in &self.decls {
            let _ = writeln!(out, "export {decl}\n");
        }
        let _ = writeln!(out, "/** What an ack receives when the call failed. */");
        let _ = writeln!(out, "{ERROR_TYPE}\n");
        let _ = writeln!(
            out,
            "/** The CONNECT payload (`auth` in the client's options). */"
        );
        let auth = self.auth.as_deref().unwrap_or("undefined");
        let _ = writeln!(out, "export type Auth = {auth};\n");
        let _ = writeln!(out, "/** The events the client emits. */");
        render_events(&mut out, "ClientToServerEvents", &self.client);
        let _ = writeln!(out, "\n/** The events the server emits. */");
        render_events(&mut out, "ServerToClientEvents", &self.server);
        out
    }

    #[cfg_attr(not(feature = "typescript"), allow(dead_code))]
    fn declare(&mut self, id: std::any::TypeId, decl: impl FnOnce() -> String) -> bool {
        if self.decls.iter().any(|(t, _)| *t == id) {
            return false;
        }
        let decl = decl();
        self.decls.push((id, decl));
        true
    }
}

fn render_events(out: &mut String, interface: &str, events: &[TsEvent]) {
    let _ = writeln!(out, "export interface {interface} {{");
    for e in events {
        let mut params: Vec<String> = e.args.iter().map(|(n, t)| format!("{n}: {t}")).collect();
        if let Some(ack) = &e.ack {
            params.push(format!("callback: (answer: {ack} | HandlerError) => void"));
        }
        let name = serde_json::to_string(e.name).unwrap_or_default();
        let _ = writeln!(out, "  {name}: ({}) => void;", params.join(", "));
    }
    let _ = writeln!(out, "}}");
}

#[cfg(feature = "typescript")]
mod enabled {
    use std::any::TypeId;

    use ts_rs::{Config, TS, TypeVisitor};

    use super::TsNamespace;

    /// What an event argument, payload or ack value must be for the TypeScript export.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` has no TypeScript type",
        label = "needs `ts_rs::TS`",
        note = "the TypeScript export (feature `typescript`) of a namespace with `emits = ...` needs `ts_rs::TS` on each argument, payload and ack type: `#[derive(ts_rs::TS)]` next to its serde derives"
    )]
    pub trait TypeScript: TS + 'static {}

    impl<T: TS + 'static> TypeScript for T {}

    fn config() -> Config {
        // serde_json writes every integer as a JSON number.
        Config::new().with_large_int("number")
    }

    /// Collects the declarations of a type's named types: its dependencies and, for wrappers
    /// such as `Option<T>` and `Vec<T>`, its type arguments.
    struct Collect<'a>(&'a mut TsNamespace, &'a Config);

    impl Collect<'_> {
        fn inside<U: TS + 'static + ?Sized>(&mut self) {
            U::visit_dependencies(self);
            U::visit_generics(self);
        }
    }

    impl TypeVisitor for Collect<'_> {
        fn visit<U: TS + 'static + ?Sized>(&mut self) {
            if U::output_path().is_none() {
                // Not a named type (a primitive, a wrapper): what it holds may be.
                self.inside::<U>();
                return;
            }
            let cfg = self.1;
            if self.0.declare(TypeId::of::<U>(), || U::decl(cfg)) {
                self.inside::<U>();
            }
        }
    }

    pub(super) fn ts_type<T: TypeScript>(out: &mut TsNamespace) -> String {
        use bytes::Bytes;
        // A binary attachment arrives as an ArrayBuffer in browsers and a Buffer under Node.
        let binary = "ArrayBuffer | Buffer";
        let id = TypeId::of::<T>();
        if id == TypeId::of::<Bytes>() {
            return binary.into();
        }
        if id == TypeId::of::<Option<Bytes>>() {
            return format!("{binary} | null");
        }
        if id == TypeId::of::<Vec<Bytes>>() {
            return format!("Array<{binary}>");
        }
        let cfg = config();
        Collect(out, &cfg).visit::<T>();
        T::name(&cfg)
    }
}

#[cfg(feature = "typescript")]
pub use enabled::TypeScript;

/// What an event argument, payload or ack value must be for the TypeScript export: anything
/// without the feature `typescript`, `ts_rs::TS` with it.
#[cfg(not(feature = "typescript"))]
pub trait TypeScript {}

#[cfg(not(feature = "typescript"))]
impl<T: ?Sized> TypeScript for T {}

/// The TypeScript type of `T`, its named types declared in `out`.
pub fn ts_type<T: TypeScript>(out: &mut TsNamespace) -> String {
    #[cfg(feature = "typescript")]
    {
        enabled::ts_type::<T>(out)
    }
    #[cfg(not(feature = "typescript"))]
    {
        let _ = out;
        String::from("unknown")
    }
}

/// A `RawArgs` parameter: every argument from there on.
pub fn ts_rest(out: &mut TsNamespace) -> String {
    let _ = out;
    String::from("unknown[]")
}

/// `(&TsAckOf::<R>::new()).ts_ack(out)` in the generated code: what the ack callback of a
/// handler returning `R` receives. A `Result` (however spelled) acks its `Ok` type; anything
/// else acks itself (autoref specialization, as the dispatch's answer is picked).
#[derive(Debug)]
pub struct TsAckOf<R>(std::marker::PhantomData<fn() -> R>);

impl<R> TsAckOf<R> {
    /// A probe.
    pub const fn new() -> Self {
        TsAckOf(std::marker::PhantomData)
    }
}

impl<R> Default for TsAckOf<R> {
    fn default() -> Self {
        Self::new()
    }
}

/// Picked for a `Result`.
pub trait TsAckResult {
    /// The ack's TypeScript.
    fn ts_ack(&self, out: &mut TsNamespace) -> Option<String>;
}

impl<T: TypeScript, E> TsAckResult for TsAckOf<Result<T, E>> {
    fn ts_ack(&self, out: &mut TsNamespace) -> Option<String> {
        Some(ts_type::<T>(out))
    }
}

/// Picked for anything else.
pub trait TsAckValue {
    /// The ack's TypeScript.
    fn ts_ack(&self, out: &mut TsNamespace) -> Option<String>;
}

impl<R: TypeScript> TsAckValue for &TsAckOf<R> {
    fn ts_ack(&self, out: &mut TsNamespace) -> Option<String> {
        Some(ts_type::<R>(out))
    }
}
