//! Semantic checks. Every problem is recorded at its token and checking goes on, so that one
//! build lists every bad handler.

use std::collections::HashMap;

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{ImplItem, LitStr, ReturnType, Type};

use crate::ast::{Method, Namespace, Output, RECV_NAMES, Role, Route};
use crate::attr::Args;
use crate::errors::Errors;

/// The ACL is a `u128` bitset.
pub(crate) const MAX_METHODS: usize = 128;

const ACL_GOVERNS: &str = "the ACL governs the event handlers: `on_*` and `#[event]` methods, `recv_message`, `recv_json`, `recv_error` and the `#[fallback]`";

pub(crate) fn validate(ns: &Namespace<'_>, args: &Args, errors: &mut Errors) {
    check_impl(ns, errors);
    for m in &ns.methods {
        check_signature(m, errors);
    }
    check_event_names(ns, errors);
    check_conflicts(ns, errors);
    check_acl(ns, args, errors);
    if let Some((m, _)) = ns.handlers().nth(MAX_METHODS) {
        errors.at_span(
            m.span(),
            format!(
                "too many event handlers: a namespace has at most {MAX_METHODS} ACL-governed methods (the ACL is a {MAX_METHODS}-bit set); split it into several namespaces"
            ),
        );
    }
}

fn check_impl(ns: &Namespace<'_>, errors: &mut Errors) {
    if let Some((_, path, _)) = &ns.item.trait_ {
        errors.at(
            path,
            "#[namespace] goes on an inherent impl block, `impl Chat { ... }`: it implements the `Namespace` trait itself",
        );
    }
    if ns.type_ident.is_none() {
        errors.at(
            &ns.item.self_ty,
            "#[namespace] goes on the impl block of a named type, `impl Chat { ... }`",
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Signatures

/// What the method's signature must look like, for messages.
fn expected_signature(m: &Method<'_>) -> String {
    let n = &m.name;
    match &m.role {
        Role::Handler(Route::Fallback) => format!("fn {n}(&mut self, cx: &mut Context<Self>, event: Event)"),
        Role::Handler(_) => format!("fn {n}(&mut self, cx: &mut Context<Self>, arg: T, ...)"),
        Role::Initialize => "fn initialize(&mut self, cx: &mut Context<Self>)".into(),
        Role::GetInitialAcl => "fn get_initial_acl(&self[, handshake: &Handshake]) -> Option<Vec<...Method>>".into(),
        Role::Connect => "fn recv_connect(&mut self, cx: &mut Context<Self>, auth: A) -> Result<(), ConnectError>".into(),
        Role::Disconnect => "fn recv_disconnect(&mut self, cx: &mut Context<Self>, reason: DisconnectReason)".into(),
        Role::Override(o) => format!("async fn {}(&mut self, cx: &mut Context<Self>, event: Event)", o.name()),
        Role::UnknownRecv | Role::NotCalled(_) => String::new(),
    }
}

fn check_signature(m: &Method<'_>, errors: &mut Errors) {
    let sig = m.sig;
    let expected = expected_signature(m);
    if let Role::NotCalled(hint) = m.role {
        errors.at(
            m.ident,
            format!(
                "gevent-socketio called `{}`; nothing here does: {hint}",
                m.name
            ),
        );
        return;
    }
    if let Role::UnknownRecv = m.role {
        let hint = suggest(&m.name, RECV_NAMES.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        errors.at(
            m.ident,
            format!(
                "`{}` is not a reserved method{hint}: the `recv_*` methods are {}; name an event handler `on_<event>`",
                m.name,
                RECV_NAMES.join(", ")
            ),
        );
        return;
    }
    if let Some(c) = &sig.constness {
        errors.at(c, format!("`{}` cannot be a `const fn`", m.name));
    }
    if let Some(u) = &sig.unsafety {
        errors.at(
            u,
            format!(
                "`{}` cannot be an `unsafe fn`: the dispatch calls it for any client",
                m.name
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.at(abi, format!("`{}` cannot have an ABI", m.name));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            &sig.generics,
            format!("`{}` cannot be generic: the dispatch decodes its arguments into their declared types", m.name),
        );
    }

    // The receiver.
    let wants_mut = !matches!(m.role, Role::GetInitialAcl);
    match sig.receiver() {
        None => errors.at(
            &sig.ident,
            format!(
                "`{}` takes `{}`: `{expected}`",
                m.name,
                if wants_mut { "&mut self" } else { "&self" }
            ),
        ),
        Some(r) => {
            let ok = match &*r.ty {
                Type::Reference(t) => t.mutability.is_some() == wants_mut && is_self(&t.elem),
                _ => false,
            };
            if !ok && wants_mut {
                errors.at(
                    r,
                    format!(
                        "expected `&mut self`: a socket's handlers run one at a time with exclusive access to its value; `{expected}`"
                    ),
                );
            } else if !ok {
                errors.at(r, format!("expected `&self`: `{expected}`"));
            }
        }
    }

    // `get_initial_acl` has no context, and may see the handshake; everything else takes one.
    if let Role::GetInitialAcl = m.role {
        if let Some(p) = m.params.get(1) {
            errors.at(
                p,
                format!(
                    "`get_initial_acl` takes `&self` and, if it needs it, the handshake: `{expected}`"
                ),
            );
        }
        if let Some(a) = &sig.asyncness {
            errors.at(
                a,
                format!("`get_initial_acl` cannot be `async`: `{expected}`"),
            );
        }
        if m.output == Output::Unit {
            errors.at_span(
                sig.paren_token.span.close(),
                format!(
                    "`get_initial_acl` returns the initial ACL, `None` for no restriction or `Some(vec![...])` of the generated method identifiers: `{expected}`"
                ),
            );
        }
        return;
    }
    match m.params.first() {
        None => errors.at_span(
            sig.paren_token.span.join(),
            format!(
                "`{}` is missing the context parameter: `{expected}`",
                m.name
            ),
        ),
        Some(p) if !matches!(&*p.ty, Type::Reference(r) if r.mutability.is_some()) => errors.at(
            p,
            format!(
                "expected the context, `cx: &mut Context<Self>`, after the receiver: `{expected}`"
            ),
        ),
        Some(_) => {}
    }

    // The parameters after the context.
    let args = m.args();
    for a in args {
        if let Type::ImplTrait(t) = &*a.ty {
            errors.at(
                t,
                "`impl Trait` makes the handler generic: name the argument's type",
            );
        }
    }
    let max_args = match m.role {
        Role::Initialize => Some(0),
        Role::Connect | Role::Disconnect => Some(1),
        Role::Handler(Route::Fallback) | Role::Override(_) => Some(1),
        _ => None,
    };
    if let Some(extra) = max_args.and_then(|max| args.get(max)) {
        errors.at(extra, format!("unexpected parameter: `{expected}`"));
    }
    if matches!(m.role, Role::Handler(Route::Fallback) | Role::Override(_)) && args.is_empty() {
        errors.at(
            &sig.ident,
            format!("`{}` takes the event: `{expected}`", m.name),
        );
    }

    // Asyncness and return type.
    match m.role {
        Role::Initialize => {
            if let Some(a) = &sig.asyncness {
                errors.at(
                    a,
                    "`initialize` cannot be `async`: it runs before the socket connects; do asynchronous work in `recv_connect` or `cx.spawn(..)`",
                );
            }
        }
        Role::Override(o) if sig.asyncness.is_none() => {
            errors.at(
                &sig.ident,
                format!(
                    "`{}` overrides an asynchronous trait method: write `async fn {}`",
                    o.name(),
                    o.name()
                ),
            );
        }
        _ => {}
    }
    let must_be_unit = matches!(m.role, Role::Initialize | Role::Disconnect);
    if must_be_unit && m.output != Output::Unit {
        errors.at(
            &sig.output,
            format!("`{}` returns nothing: `{expected}`", m.name),
        );
    }
    if let ReturnType::Type(_, ty) = &sig.output
        && let Type::ImplTrait(t) = &**ty
        && !matches!(m.role, Role::Override(_))
    {
        errors.at(
            t,
            "return the value itself (write `async fn` for an asynchronous handler): it is sent as the ack",
        );
    }
}

fn is_self(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.is_ident("Self"))
}

// ---------------------------------------------------------------------------------------------
// Event names

/// A reserved event name: what to write instead.
fn reserved_event(name: &str, from_ident: bool) -> Option<&'static str> {
    Some(match name {
        "connect" => "use `recv_connect` for a socket joining the namespace",
        "disconnect" => "use `recv_disconnect` for a socket leaving the namespace",
        "disconnecting" => "use `recv_disconnect`: it runs while the socket is still in its rooms",
        "connect_error" => {
            "CONNECT_ERROR is the answer to a refused connection: refuse it by returning `Err(ConnectError::new(..))` from `recv_connect`"
        }
        "newListener" | "removeListener" => "it is a name of the client's own event emitter",
        "new_listener" | "remove_listener" if from_ident => {
            "`newListener` and `removeListener` are names of the client's own event emitter; to handle an event really named so, use `#[event(\"...\")]`"
        }
        _ => return None,
    })
}

fn check_event_names(ns: &Namespace<'_>, errors: &mut Errors) {
    for (m, route) in ns.handlers() {
        let Route::Event(lit, _) = route else {
            continue;
        };
        let event = lit.value();
        let from_ident = m.helpers.event.is_none();
        if event.is_empty() {
            if from_ident {
                errors.at(
                    m.ident,
                    "`on_` needs the event name after it, as in `on_login`",
                );
            } else {
                errors.at(lit, "an event name cannot be empty");
            }
        } else if let Some(hint) = reserved_event(&event, from_ident) {
            let what = if event.contains('_') && hint.contains("emitter") {
                let camel = if event.starts_with("new") {
                    "newListener"
                } else {
                    "removeListener"
                };
                format!("`{}` stands for the event `{camel}`", m.name)
            } else if from_ident {
                format!("`{}` would handle the event `{event}`", m.name)
            } else {
                format!("the event `{event}`")
            };
            errors.at(
                lit,
                format!("{what}, which Socket.IO reserves (clients cannot emit it): {hint}"),
            );
        }
    }
}

/// Two handlers for one event. Allowed only when both are under `#[cfg]` (presumably
/// exclusive ones; if not, the generated `match` reports the unreachable arm).
fn check_conflicts(ns: &Namespace<'_>, errors: &mut Errors) {
    const STRING: &str = "message events with a string";
    const OTHER: &str = "message events with other JSON";
    let mut claimed: HashMap<String, &Method<'_>> = HashMap::new();
    for (m, route) in ns.handlers() {
        if let Route::Event(lit, _) = route {
            // Reported by `check_event_names` already.
            let event = lit.value();
            if event.is_empty() || reserved_event(&event, m.helpers.event.is_none()).is_some() {
                continue;
            }
        }
        let (claims, at) = match route {
            Route::Event(lit, _) if lit.value() == "message" => (
                vec![STRING.to_owned(), OTHER.to_owned()],
                lit.to_token_stream(),
            ),
            Route::Event(lit, spaced) => (
                std::iter::once(lit)
                    .chain(spaced)
                    .map(LitStr::value)
                    .collect(),
                lit.to_token_stream(),
            ),
            Route::Message { string: true } => (vec![STRING.to_owned()], m.ident.to_token_stream()),
            Route::Message { string: false } => (vec![OTHER.to_owned()], m.ident.to_token_stream()),
            Route::Fallback => (
                vec![String::new()],
                m.helpers
                    .fallback
                    .as_ref()
                    .map_or_else(|| m.ident.to_token_stream(), ToTokens::to_token_stream),
            ),
        };
        for claim in claims {
            match claimed.get(&claim) {
                Some(first) if !(first.is_conditional() && m.is_conditional()) => {
                    let message = match route {
                        Route::Fallback => format!(
                            "only one `#[fallback]` per namespace: `{}` is one",
                            first.name
                        ),
                        _ if claim == STRING || claim == OTHER => format!(
                            "`message` events are already handled by `{}`: take them all with `on_message`, or split them between `recv_message` (a string) and `recv_json` (other JSON)",
                            first.name
                        ),
                        _ => {
                            let spaced = |m: &Method<'_>| match &m.role {
                                Role::Handler(Route::Event(_, Some(s))) => s.value() == claim,
                                _ => false,
                            };
                            let (this, other) = (&m.name, &first.name);
                            if spaced(m) {
                                format!(
                                    "`{this}` also takes the event `{claim}` (an `on_` name takes its event with `_` and with spaces, as gevent-socketio routed it), which `{other}` handles: rename one of them, or give `{this}` its exact event name with `#[event(\"...\")]`"
                                )
                            } else if spaced(first) {
                                format!(
                                    "the event `{claim}` is already handled by `{other}` (an `on_` name takes its event with `_` and with spaces, as gevent-socketio routed it): rename one of them, or give `{other}` its exact event name with `#[event(\"...\")]`"
                                )
                            } else {
                                format!("the event `{claim}` is already handled by `{other}`")
                            }
                        }
                    };
                    errors.at(&at, message);
                    break;
                }
                Some(_) => {}
                None => {
                    claimed.insert(claim, m);
                }
            }
        }
    }
    check_mixed_spellings(ns, errors);
}

/// An `on_` name with several `_` takes its event with any of them written as a space
/// (`on_a_b_c`: `a b_c`, `a_b c`, ..., as gevent-socketio's `name.replace(' ', '_')`
/// routed them); an explicit `#[event]` name that is one of those spellings meets it. (The
/// all-`_` and all-space spellings are checked with the other claims.)
fn check_mixed_spellings(ns: &Namespace<'_>, errors: &mut Errors) {
    let spaced: Vec<(&Method<'_>, String)> = ns
        .handlers()
        .filter_map(|(m, r)| match r {
            Route::Event(lit, Some(_)) => Some((m, lit.value())),
            _ => None,
        })
        .collect();
    for (m, route) in ns.handlers() {
        let Route::Event(lit, None) = route else {
            continue;
        };
        let event = lit.value();
        let mixed = |u: &String| {
            event.contains(' ')
                && event.contains('_')
                && event.len() == u.len()
                && event
                    .bytes()
                    .zip(u.bytes())
                    .all(|(a, b)| a == b || (a == b' ' && b == b'_'))
        };
        for (other, underscored) in &spaced {
            if !mixed(underscored) || (m.is_conditional() && other.is_conditional()) {
                continue;
            }
            // Reported at the second of the two, as the other conflicts are.
            let (this, first, at) = if m.index > other.index {
                (&m.name, &other.name, lit.to_token_stream())
            } else {
                (&other.name, &m.name, other.ident.to_token_stream())
            };
            let on = &other.name;
            errors.at(
                at,
                format!(
                    "`{this}` and `{first}` both take the event `{event}` (an `on_` name takes its event with any of its `_` written as spaces, as gevent-socketio routed it): rename one of them, or give `{on}` its exact event name with `#[event(\"...\")]`"
                ),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ACL

fn check_acl(ns: &Namespace<'_>, args: &Args, errors: &mut Errors) {
    let Some(acl) = &args.acl else { return };
    let mut seen: Vec<String> = Vec::new();
    for ident in acl {
        let name = ident.unraw().to_string();
        if seen.contains(&name) {
            errors.at(ident, format!("`{name}` is listed twice"));
            continue;
        }
        seen.push(name.clone());
        if ns.handlers().any(|(m, _)| m.name == name) {
            continue;
        }
        let role = ns.methods.iter().find(|m| m.name == name).map(|m| &m.role);
        let message = match (name.as_str(), role) {
            ("recv_connect" | "recv_disconnect", _)
            | (_, Some(Role::Connect | Role::Disconnect)) => {
                format!("`{name}` always runs, whatever the ACL says; {ACL_GOVERNS}")
            }
            (_, Some(_)) => format!("`{name}` is not an event handler; {ACL_GOVERNS}"),
            _ if is_plain_method(ns, &name) => {
                format!("`{name}` is not an event handler; {ACL_GOVERNS}")
            }
            _ => {
                let hint = suggest(&name, ns.handlers().map(|(m, _)| m.name.as_str()))
                    .map(|s| format!(": did you mean `{s}`?"))
                    .unwrap_or_default();
                format!("no event handler named `{name}` in this impl{hint}")
            }
        };
        errors.at(ident, message);
    }
}

fn is_plain_method(ns: &Namespace<'_>, name: &str) -> bool {
    ns.item
        .items
        .iter()
        .any(|i| matches!(i, ImplItem::Fn(f) if f.sig.ident.unraw() == name))
}

/// The closest candidate within a small edit distance.
fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.len() / 3).max(1);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
