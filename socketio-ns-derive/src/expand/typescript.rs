//! The TypeScript description of a namespace that declares its outgoing events
//! (`emits = ...`): its handlers' events and its auth payload, read by the runtime's
//! `typescript` export. Every type is named at its own span, so that a type without
//! `ts_rs::TS` (under the feature `typescript`) is reported there.

use proc_macro2::{Ident, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Pat, PatType, ReturnType, Type};

use super::{Gen, local};
use crate::ast::{Output, Role, Route};

/// `on_login(&mut self, cx, nick: String) -> Result<Nick, HandlerError>`
/// → `out.client_event("login", &[("nick", ts_type::<String>)], |out| (&TsAckOf::<Result<Nick, HandlerError>>::new()).ts_ack(out));`
/// and `recv_connect(.., auth: ChatAuth)` → `out.auth(ts_type::<ChatAuth>);`. Nothing without
/// `emits = ...`; `recv_message`, `recv_json` and the `#[fallback]` are left out (they take
/// any event).
pub(super) fn describe(g: &Gen<'_>) -> TokenStream {
    if g.args.emits.is_none() {
        return TokenStream::new();
    }
    let private = &g.private;
    let out = local("out");
    let mut statements = Vec::new();
    for m in &g.ns.methods {
        let cfgs = &m.cfgs;
        match &m.role {
            Role::Connect => {
                if let Some(a) = m.args().first() {
                    let ty = ts_type(g, &a.ty);
                    statements.push(quote!(#(#cfgs)* #out.auth(#ty);));
                }
            }
            Role::Handler(Route::Event(lit, _)) => {
                let args = m.args().iter().enumerate().map(|(i, a)| {
                    let name = param_name(a, i);
                    let ty = ts_type(g, &a.ty);
                    quote!((#name, #ty))
                });
                let ack = match (&m.output, &m.sig.output) {
                    (Output::Value, ReturnType::Type(_, ty)) => {
                        let probe = g.private_at(ty.span());
                        let ts_ack = Ident::new("ts_ack", ty.span());
                        quote_spanned!(ty.span()=> |#out| (&#probe::TsAckOf::<#ty>::new()).#ts_ack(#out))
                    }
                    _ => quote!(|_| ::core::option::Option::None),
                };
                statements.push(quote! {
                    #(#cfgs)*
                    #out.client_event(#lit, &[#(#args),*], #ack);
                });
            }
            _ => {}
        }
    }
    let imports =
        g.ns.handlers()
            .any(|(m, _)| m.output == Output::Value)
            .then(|| quote!(use #private::{TsAckResult as _, TsAckValue as _};));
    quote! {
        fn __socketio_ns_typescript(#out: &mut #private::TsNamespace) {
            #imports
            #(#statements)*
        }
    }
}

/// `ts_type::<Ty>` at the span of `Ty`; a `RawArgs` parameter (every argument from there on)
/// is `unknown[]`.
fn ts_type(g: &Gen<'_>, ty: &Type) -> TokenStream {
    let private = g.private_at(ty.span());
    let raw =
        matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "RawArgs"));
    if raw {
        return quote_spanned!(ty.span()=> #private::ts_rest);
    }
    quote_spanned!(ty.span()=> #private::ts_type::<#ty>)
}

/// The parameter's name for TypeScript: its identifier without leading underscores, else
/// `arg<i>`; `...rest` for `RawArgs`.
fn param_name(a: &PatType, i: usize) -> String {
    let name = match &*a.pat {
        Pat::Ident(p) => p.ident.to_string().trim_start_matches('_').to_owned(),
        _ => String::new(),
    };
    let name = if name.is_empty() || name.starts_with("r#") {
        format!("arg{i}")
    } else {
        name
    };
    let raw = matches!(&*a.ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "RawArgs"));
    if raw { format!("...{name}") } else { name }
}
