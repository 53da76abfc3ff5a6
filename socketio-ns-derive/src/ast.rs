//! The impl block as the macro sees it: each method with its role (handler, hook, override or
//! plain method). A view that borrows the original syn nodes (for spans) and never rewrites
//! them; what is emitted is built from it in `expand`.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{
    Attribute, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, LitStr, PatType, ReturnType,
    Signature, Type,
};

use crate::attr::{self, Helpers};
use crate::errors::Errors;

/// The `impl` block under `#[namespace]`.
pub(crate) struct Namespace<'a> {
    /// The impl as written, helper attributes included.
    pub(crate) item: &'a ItemImpl,
    /// The last segment of the self type (`Chat` in `impl Chat`), to name the method enum.
    pub(crate) type_ident: Option<&'a Ident>,
    /// The methods that have a role, in source order.
    pub(crate) methods: Vec<Method<'a>>,
}

pub(crate) struct Method<'a> {
    /// The method's position in the impl's items.
    pub(crate) index: usize,
    /// The method's name as written (`on_login`, `r#type`).
    pub(crate) ident: &'a Ident,
    /// The name without `r#`.
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) helpers: Helpers<'a>,
    /// `#[cfg]` attributes, copied onto whatever is generated for the method (enum variant,
    /// `METHODS` row, `match` arms), so that a method compiled out is never named.
    pub(crate) cfgs: Vec<&'a Attribute>,
    /// `#[deprecated]`, copied onto the method's identifier in the enum.
    pub(crate) deprecated: Vec<&'a Attribute>,
    pub(crate) sig: &'a Signature,
    /// The typed parameters after `self` (the first is the context).
    pub(crate) params: Vec<&'a PatType>,
    pub(crate) output: Output,
}

/// What a method is to the macro.
pub(crate) enum Role {
    /// An ACL-governed handler.
    Handler(Route),
    /// `initialize(&mut self, cx)`.
    Initialize,
    /// `get_initial_acl(&self)`.
    GetInitialAcl,
    /// `recv_connect(&mut self, cx[, auth])`.
    Connect,
    /// `recv_disconnect(&mut self, cx[, reason])`.
    Disconnect,
    /// `process_packet`, `call_method_with_acl` or `call_method`: replaces the trait's default.
    Override(Override),
    /// A `recv_*` name that is none of the reserved ones (an error).
    UnknownRecv,
    /// A method gevent-socketio's `BaseNamespace` called and this runtime never does (an
    /// error that says what to write instead).
    NotCalled(&'static str),
}

/// gevent-socketio methods an application overrides that nothing here would call, with what
/// to write instead.
const NOT_CALLED: &[(&str, &str)] = &[
    (
        "process_event",
        "events are routed by the generated `method_of` (`on_<name>` takes `<name>`, with `_` or spaces; `#[event(\"...\")]` gives a name exactly); take the events no handler takes with a `#[fallback]` method, or override `async fn call_method_with_acl(&mut self, cx: &mut Context<Self>, event: Event)`",
    ),
    (
        "disconnect",
        "put the clean-up in `fn recv_disconnect(&mut self, cx: &mut Context<Self>, reason: DisconnectReason)`, which always runs when the socket leaves; to disconnect the client, call `cx.disconnect()`",
    ),
    (
        "exception_handler_decorator",
        "a handler's `Err` or panic is answered to the client by the runtime; to see or change it, override `async fn call_method_with_acl(&mut self, cx: &mut Context<Self>, event: Event)` and inspect what `socketio_ns::default_call_method_with_acl(self, cx, event).await` returns",
    ),
    (
        "is_method_allowed",
        "the ACL is checked by the runtime with `cx.is_method_allowed(..)`; to decide yourself, override `async fn call_method_with_acl(&mut self, cx: &mut Context<Self>, event: Event)` and call `socketio_ns::default_call_method(self, cx, event)` for what you allow",
    ),
];

/// The events a handler takes.
pub(crate) enum Route {
    /// One event name (from `on_<name>`, `#[event("...")]` or `recv_error`). A name taken from
    /// an `on_` identifier that contains `_` is also taken with spaces (`on_user_message`:
    /// `user_message` and `user message`), as gevent-socketio routed events; that spelling is
    /// the second field.
    Event(LitStr, Option<LitStr>),
    /// `message` events whose first argument is a string (`recv_message`) or not (`recv_json`).
    Message { string: bool },
    /// Every event no other handler takes.
    Fallback,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Override {
    ProcessPacket,
    CallMethodWithAcl,
    CallMethod,
}

impl Override {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Override::ProcessPacket => "process_packet",
            Override::CallMethodWithAcl => "call_method_with_acl",
            Override::CallMethod => "call_method",
        }
    }
}

/// A method's return type, as the dispatch treats it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// None, or `()`.
    Unit,
    /// A value: the runtime answers it by its type (a `Result`, however spelled: `Ok` is the
    /// ack and `Err` an error reply; anything else is the ack).
    Value,
}

impl Output {
    fn of(output: &ReturnType) -> Self {
        match output {
            ReturnType::Type(_, ty) if !matches!(&**ty, Type::Tuple(t) if t.elems.is_empty()) => {
                Output::Value
            }
            _ => Output::Unit,
        }
    }
}

/// The reserved `recv_*` names.
pub(crate) const RECV_NAMES: &[&str] = &[
    "recv_connect",
    "recv_disconnect",
    "recv_message",
    "recv_json",
    "recv_error",
];

impl<'a> Namespace<'a> {
    /// Reads the impl block.
    pub(crate) fn parse(item: &'a ItemImpl, errors: &mut Errors) -> Self {
        let type_ident = match &*item.self_ty {
            Type::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| &s.ident),
            _ => None,
        };
        let methods = item
            .items
            .iter()
            .enumerate()
            .filter_map(|(index, impl_item)| match impl_item {
                ImplItem::Fn(f) => Method::parse(index, f, errors),
                _ => None,
            })
            .collect();
        Namespace {
            item,
            type_ident,
            methods,
        }
    }

    pub(crate) fn handlers(&self) -> impl Iterator<Item = (&Method<'a>, &Route)> {
        self.methods.iter().filter_map(|m| match &m.role {
            Role::Handler(r) => Some((m, r)),
            _ => None,
        })
    }
}

impl<'a> Method<'a> {
    /// The role of a method, from its name and helper attributes; `None` for a plain method.
    fn parse(index: usize, f: &'a ImplItemFn, errors: &mut Errors) -> Option<Self> {
        let helpers = attr::parse_helpers(&f.attrs, errors);
        let ident = &f.sig.ident;
        let name = ident.unraw().to_string();
        let reserved = match name.as_str() {
            "initialize" => Some(Role::Initialize),
            "get_initial_acl" => Some(Role::GetInitialAcl),
            "recv_connect" => Some(Role::Connect),
            "recv_disconnect" => Some(Role::Disconnect),
            "recv_message" => Some(Role::Handler(Route::Message { string: true })),
            "recv_json" => Some(Role::Handler(Route::Message { string: false })),
            "recv_error" => Some(Role::Handler(Route::Event(
                LitStr::new("error", ident.span()),
                None,
            ))),
            "process_packet" => Some(Role::Override(Override::ProcessPacket)),
            "call_method_with_acl" => Some(Role::Override(Override::CallMethodWithAcl)),
            "call_method" => Some(Role::Override(Override::CallMethod)),
            n if helpers.event.is_none() && helpers.fallback.is_none() => NOT_CALLED
                .iter()
                .find(|(name, _)| *name == n)
                .map(|(_, hint)| Role::NotCalled(hint))
                .or_else(|| {
                    // A `recv_*` typo is an error, unless the method is plainly a handler.
                    n.starts_with("recv_").then_some(Role::UnknownRecv)
                }),
            _ => None,
        };
        let role = match (reserved, &helpers.event, &helpers.fallback) {
            (Some(_), Some(event), _) => {
                errors.at(
                    event,
                    format!("`{name}` is a reserved method: it cannot take `#[event]`; name the handler `on_<event>` instead"),
                );
                return None;
            }
            (Some(_), None, Some(fallback)) => {
                errors.at(
                    fallback,
                    format!("`{name}` is a reserved method: it cannot be the `#[fallback]`"),
                );
                return None;
            }
            (Some(role), None, None) => role,
            (None, Some(_), Some(fallback)) => {
                errors.at(fallback, "a method is either an event's handler (`#[event]`) or the `#[fallback]`, not both");
                return None;
            }
            (None, Some(event), None) => Role::Handler(Route::Event(event.clone(), None)),
            (None, None, Some(_)) => Role::Handler(Route::Fallback),
            (None, None, None) => match name.strip_prefix("on_") {
                Some(event) => {
                    let spaced = (event.contains('_') && !event.starts_with('_'))
                        .then(|| LitStr::new(&event.replace('_', " "), ident.span()));
                    Role::Handler(Route::Event(LitStr::new(event, ident.span()), spaced))
                }
                None => return None,
            },
        };
        let params = f
            .sig
            .inputs
            .iter()
            .filter_map(|a| match a {
                FnArg::Typed(t) => Some(t),
                FnArg::Receiver(_) => None,
            })
            .collect();
        Some(Method {
            index,
            ident,
            name,
            role,
            helpers,
            cfgs: f
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("cfg"))
                .collect(),
            deprecated: f
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("deprecated"))
                .collect(),
            output: Output::of(&f.sig.output),
            sig: &f.sig,
            params,
        })
    }

    /// The span to report the method at: its name.
    pub(crate) fn span(&self) -> Span {
        self.ident.span()
    }

    pub(crate) fn is_async(&self) -> bool {
        self.sig.asyncness.is_some()
    }

    /// The parameters after the context: the event's arguments.
    pub(crate) fn args(&self) -> &[&'a PatType] {
        self.params.get(1..).unwrap_or(&[])
    }

    /// Whether the method is compiled only under some `#[cfg]`.
    pub(crate) fn is_conditional(&self) -> bool {
        !self.cfgs.is_empty()
    }
}
