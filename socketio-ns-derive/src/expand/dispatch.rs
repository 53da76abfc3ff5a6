//! The event side of the trait impl: `method_of` (event name → method), the dispatch
//! (method → handler call and ack), the reserved hooks and the low-level overrides.

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ReturnType;
use syn::spanned::Spanned;

use super::{Gen, local, local_at};
use crate::ast::{Method, Output, Override, Role, Route};

/// `fn method_of(event: &Event) -> Option<ChatMethod>`: one flat `match` on the event name.
///
/// `on_login` → `"login" => Some(ChatMethod::on_login)`; `on_user_message` →
/// `"user_message" | "user message" => ..` (and `on_a_b_c`, after the exact names,
/// `name if same_event(name, "a_b_c") => ..` for the mixed spellings `a b_c`, `a_b c`); `recv_message` / `recv_json` →
/// `"message" if event.arg_is_string(0)` / `if !..`; the `#[fallback]`, if any, takes `_`.
pub(super) fn method_of(g: &Gen<'_>) -> TokenStream {
    let (krate, ident, event) = (&g.krate, &g.method_enum, &g.event);
    let mut arms = Vec::new();
    // `on_a_b_c` also takes `a b_c`, `a_b c`, ...: one guard each, after the exact names.
    let mut mixed = Vec::new();
    let mut fallback = None;
    for (m, route) in g.ns.handlers() {
        let (cfgs, variant) = (&m.cfgs, &m.ident);
        let pattern = match route {
            Route::Event(lit, None) => quote!(#lit),
            Route::Event(lit, Some(spaced)) => quote!(#lit | #spaced),
            Route::Message { string: true } => quote!("message" if #event.arg_is_string(0)),
            Route::Message { string: false } => quote!("message" if !#event.arg_is_string(0)),
            Route::Fallback => {
                fallback = Some(m);
                continue;
            }
        };
        arms.push(quote! {
            #(#cfgs)*
            #pattern => ::core::option::Option::Some(#ident::#variant),
        });
        if let Route::Event(lit, Some(_)) = route
            && lit.value().matches('_').count() > 1
        {
            let (name, private) = (local("name"), &g.private);
            mixed.push(quote! {
                #(#cfgs)*
                #name if #private::same_event(#name, #lit) => ::core::option::Option::Some(#ident::#variant),
            });
        }
    }
    arms.extend(mixed);
    let fallback_method = fallback;
    let fallback = match fallback {
        None => quote!(_ => ::core::option::Option::None,),
        Some(m) if !m.is_conditional() => {
            let variant = &m.ident;
            quote!(_ => ::core::option::Option::Some(#ident::#variant),)
        }
        Some(m) => {
            // A fallback under `#[cfg]`: `_` goes to `None` where it is compiled out.
            let (cfgs, variant) = (&m.cfgs, &m.ident);
            let predicates = cfgs.iter().map(|c| {
                c.meta
                    .require_list()
                    .map(|l| l.tokens.clone())
                    .unwrap_or_default()
            });
            quote! {
                #(#cfgs)*
                _ => ::core::option::Option::Some(#ident::#variant),
                #[cfg(not(all(#(#predicates),*)))]
                _ => ::core::option::Option::None,
            }
        }
    };
    if arms.is_empty() && fallback_method.is_none_or(|m| !m.is_conditional()) {
        // Nothing to match: every event goes to the fallback, or to no method.
        let only = match fallback_method {
            Some(m) => {
                let variant = &m.ident;
                quote!(::core::option::Option::Some(#ident::#variant))
            }
            None => quote!(::core::option::Option::None),
        };
        return quote! {
            fn method_of(_: &#krate::Event) -> ::core::option::Option<#ident> {
                #only
            }
        };
    }
    quote! {
        fn method_of(#event: &#krate::Event) -> ::core::option::Option<#ident> {
            #[deny(unreachable_patterns)]
            match #event.name() {
                #(#arms)*
                #fallback
            }
        }
    }
}

/// The generated `call_method`, behind `default_call_method`, given the method the event names
/// (looked up once by the runtime, for the ACL and for this `match`): decode its arguments in
/// order (`?`: bad arguments run nothing) → call → answer the ack.
///
/// ```text
/// Some(ChatMethod::on_login) => {
///     let output = Self::on_login(self, cx, arg(&event, 0)?).await;
///     (&output).reply_kind().reply(cx, output)
/// }
/// ```
///
/// `arg` is called at the span of the parameter's type and `reply` with `output` at the span
/// of the return type, so that a type that does not fit is reported there. `reply_kind` picks
/// the answer by the output's type: a `Result` under any alias is `Ok` → ack, `Err` → error
/// (its traits are imported once at the top of the function).
pub(super) fn dispatch(g: &Gen<'_>) -> TokenStream {
    if g.ns.handlers().next().is_none() {
        return TokenStream::new();
    }
    let (krate, private, ident, cx, event) =
        (&g.krate, &g.private, &g.method_enum, &g.cx, &g.event);
    let method = &g.method;
    let arms = g.ns.handlers().map(|(m, route)| {
        let (cfgs, variant) = (&m.cfgs, &m.ident);
        let args: Vec<TokenStream> = match route {
            Route::Fallback => m
                .args()
                .iter()
                .map(|a| local_at("event", a.ty.span()).into_token_stream())
                .collect(),
            _ => m
                .args()
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let i = Literal::usize_unsuffixed(i);
                    let private = g.private_at(a.ty.span());
                    quote_spanned!(a.ty.span()=> #private::arg(&#event, #i)?)
                })
                .collect(),
        };
        let call = call(m, &args);
        let body = match m.output {
            // Nothing to send but the ack itself, if asked for.
            Output::Unit => quote! {
                #call;
                #private::reply(#cx, ())
            },
            Output::Value => reply_by_type(g, m, call),
        };
        quote! {
            #(#cfgs)*
            ::core::option::Option::Some(#ident::#variant) => {
                #body
            }
        }
    });
    // What `reply_by_type` calls, imported once. Its `(&output)` is what picks the answer by
    // type, not a borrow clippy should remove.
    let by_type = g.ns.handlers().any(|(m, _)| m.output == Output::Value);
    let answer_by_type =
        by_type.then(|| quote!(use #private::{ReplyKindResult as _, ReplyKindValue as _};));
    let allow = by_type.then(|| quote!(#[allow(clippy::needless_borrow)]));
    quote! {
        #allow
        async fn __socketio_ns_dispatch(
            &mut self,
            #cx: &mut #krate::Context<Self>,
            #method: ::core::option::Option<#ident>,
            #event: #krate::Event,
        ) -> ::core::result::Result<(), #krate::HandlerError> {
            #answer_by_type
            match #method {
                #(#arms)*
                ::core::option::Option::None => ::core::result::Result::Err(#private::no_such_method(&#event)),
            }
        }
    }
}

/// `Self::on_login(self, cx, args..)`, awaited when the method is `async`. The context is
/// passed at the span of the method's context parameter, so a wrong type is reported there.
fn call(m: &Method<'_>, args: &[TokenStream]) -> TokenStream {
    let ident = &m.ident;
    let cx = match m.params.first() {
        Some(p) => local_at("cx", p.ty.span()),
        None => local("cx"),
    };
    let awaited = m.is_async().then(|| quote!(.await));
    quote!(Self::#ident(self, #cx #(, #args)*)#awaited)
}

/// `let output = <call>; <private>::<function>([cx, ]output)`, with `function` and `output` at
/// the span of the method's return type: a return type that does not fit the function's bound
/// is reported there.
fn pass_output(
    g: &Gen<'_>,
    m: &Method<'_>,
    call: TokenStream,
    function: &str,
    cx: Option<&Ident>,
) -> TokenStream {
    let span = match &m.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => m.ident.span(),
    };
    let private = g.private_at(span);
    let function = Ident::new(function, span);
    let (decl, output) = (local("output"), local_at("output", span));
    let cx = cx.map(|cx| quote!(#cx,));
    quote! {
        let #decl = #call;
        #private::#function(#cx #output)
    }
}

/// `let output = <call>; (&output).reply_kind().reply(cx, output)`, at the span of the return
/// type: the runtime's `ReplyKindResult` is found for a `Result` (however it is spelled), its
/// `ReplyKindValue` (one `&` further) for anything else.
fn reply_by_type(g: &Gen<'_>, m: &Method<'_>, call: TokenStream) -> TokenStream {
    let span = match &m.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => m.ident.span(),
    };
    // Every token of the answer, `output` included, in the user's context at the
    // return type: rustc then reports a value that does not fit there, not at the attribute.
    // (`output` is declared and used only here, so this name cannot meet the user's.) The
    // traits are imported at the top of the dispatch function.
    let output = Ident::new("output", span);
    let (kind, reply) = (Ident::new("reply_kind", span), Ident::new("reply", span));
    let cx = &g.cx;
    let answer = quote_spanned!(span=> (&#output).#kind().#reply(#cx, #output));
    quote! {
        let #output = #call;
        #answer
    }
}

/// `initialize`, `get_initial_acl`, `recv_connect`, `recv_disconnect`: each becomes the trait
/// method it stands for (several only when they are under different `#[cfg]`s).
pub(super) fn hooks(g: &Gen<'_>) -> TokenStream {
    let (krate, ident, cx) = (&g.krate, &g.method_enum, &g.cx);
    let mut out = TokenStream::new();
    for m in &g.ns.methods {
        let cfgs = &m.cfgs;
        let method = &m.ident;
        let hook = match m.role {
            Role::Initialize => {
                let call = call(m, &[]);
                quote! {
                    fn initialize(&mut self, #cx: &mut #krate::Context<Self>) {
                        #call
                    }
                }
            }
            Role::GetInitialAcl => {
                // The handshake is passed when the method takes it, at its type's span.
                let (param, call) = match m.params.first() {
                    Some(p) => {
                        let handshake = local_at("handshake", p.ty.span());
                        (local("handshake"), quote!(Self::#method(self, #handshake)))
                    }
                    None => (
                        Ident::new("_", Span::call_site()),
                        quote!(Self::#method(self)),
                    ),
                };
                let body = pass_output(g, m, call, "initial_acl", None);
                quote! {
                    fn get_initial_acl(
                        &self,
                        #param: &#krate::Handshake,
                    ) -> ::core::option::Option<::std::borrow::Cow<'static, [#ident]>> {
                        #body
                    }
                }
            }
            Role::Connect => {
                let auth = local("auth");
                let (param, args) = match m.args().first() {
                    Some(a) => {
                        let private = g.private_at(a.ty.span());
                        (
                            quote!(#auth),
                            vec![quote_spanned!(a.ty.span()=> #private::auth(#auth)?)],
                        )
                    }
                    None => (quote!(_), vec![]),
                };
                let call = call(m, &args);
                let body = if m.output == Output::Unit {
                    quote! {
                        #call;
                        ::core::result::Result::Ok(())
                    }
                } else {
                    pass_output(g, m, call, "connected", None)
                };
                quote! {
                    async fn connect(
                        &mut self,
                        #cx: &mut #krate::Context<Self>,
                        #param: ::core::option::Option<&str>,
                    ) -> ::core::result::Result<(), #krate::ConnectError> {
                        #body
                    }
                }
            }
            Role::Disconnect => {
                let (param, args) = match m.args().first() {
                    Some(a) => (
                        local("reason").into_token_stream(),
                        vec![local_at("reason", a.ty.span()).into_token_stream()],
                    ),
                    None => (quote!(_), vec![]),
                };
                let call = call(m, &args);
                quote! {
                    async fn disconnect(&mut self, #cx: &mut #krate::Context<Self>, #param: #krate::DisconnectReason) {
                        #call
                    }
                }
            }
            _ => continue,
        };
        out.extend(quote!(#(#cfgs)* #hook));
    }
    out
}

/// `process_packet`, `call_method_with_acl`, `call_method` written in the impl replace the
/// trait's defaults: the trait method returns the user's (async) method's future.
pub(super) fn overrides(g: &Gen<'_>) -> TokenStream {
    let (krate, cx, event) = (&g.krate, &g.cx, &g.event);
    let mut out = TokenStream::new();
    for m in &g.ns.methods {
        let Role::Override(which) = m.role else {
            continue;
        };
        let cfgs = &m.cfgs;
        let name = &m.ident;
        let output = match which {
            Override::ProcessPacket => quote!(()),
            Override::CallMethodWithAcl | Override::CallMethod => {
                quote!(::core::result::Result<(), #krate::HandlerError>)
            }
        };
        let event_arg = match m.args().first() {
            Some(a) => local_at("event", a.ty.span()),
            None => event.clone(),
        };
        let cx_arg = match m.params.first() {
            Some(p) => local_at("cx", p.ty.span()),
            None => cx.clone(),
        };
        out.extend(quote! {
            #(#cfgs)*
            fn #name(
                &mut self,
                #cx: &mut #krate::Context<Self>,
                #event: #krate::Event,
            ) -> impl ::core::future::Future<Output = #output> + ::core::marker::Send {
                Self::#name(self, #cx_arg, #event_arg)
            }
        });
    }
    out
}
