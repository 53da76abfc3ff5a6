//! Generation. The user's impl is re-emitted as written (minus `#[event]` / `#[fallback]`);
//! next to it go the method enum and, inside `const _: () = { ... };`, the trait impls and
//! the registration.

mod acl;
mod dispatch;
mod typescript;

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt;
use syn::{ImplItem, ItemImpl, LitStr};

use crate::ast::{Namespace, Role};
use crate::attr::{self, Args};
use crate::errors::Errors;
use crate::validate;

/// The whole expansion of `#[namespace(attr)] item`.
pub(crate) fn namespace(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = attr::parse_args(attr, &mut errors);
    let item: ItemImpl = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(_) => {
            errors.at_span(
                Span::call_site(),
                "#[namespace] goes on an impl block: `#[namespace(\"/chat\")] impl Chat { ... }`",
            );
            return quote!(#errors #item);
        }
    };
    let ns = Namespace::parse(&item, &mut errors);
    validate::validate(&ns, &args, &mut errors);

    let user = user_impl(&ns);
    let Some(g) = Gen::new(&ns, &args) else {
        // No type to implement the trait for: the impl and the errors only.
        return quote!(#user #errors);
    };
    let body = if errors.is_empty() {
        g.full()
    } else {
        g.stub()
    };
    let method_enum = acl::method_enum(&g);
    quote! {
        #user
        #errors
        #method_enum
        const _: () = {
            #body
        };
    }
}

/// The user's impl as emitted: every item as written, except that methods lose the macro's
/// helper attributes, and the methods the generated code calls allow two lints.
///
/// ```text
/// #[event("chat message")]
/// async fn on_chat(&mut self, cx: &mut Context<Self>, text: String) { .. }
/// fn helper(&self) { .. }
/// →
/// #[allow(clippy::unused_self, clippy::needless_pass_by_value)]
/// async fn on_chat(&mut self, cx: &mut Context<Self>, text: String) { .. }
/// fn helper(&self) { .. }
/// ```
fn user_impl(ns: &Namespace<'_>) -> ItemImpl {
    let mut item = ns.item.clone();
    for (index, impl_item) in item.items.iter_mut().enumerate() {
        let ImplItem::Fn(f) = impl_item else { continue };
        f.attrs.retain(|a| !attr::is_helper(a));
        // The macro dictates the signature: `&mut self` even where a handler does not use it,
        // owned arguments even where it only reads them.
        let called = ns
            .methods
            .iter()
            .any(|m| m.index == index && !matches!(m.role, Role::UnknownRecv | Role::NotCalled(_)));
        if called {
            f.attrs.push(syn::parse_quote!(
                #[allow(clippy::unused_self, clippy::needless_pass_by_value)]
            ));
        }
    }
    item
}

/// What every generator needs: the model, the paths to the runtime, the generated names.
pub(crate) struct Gen<'a> {
    pub(crate) ns: &'a Namespace<'a>,
    pub(crate) args: &'a Args,
    /// `::socketio_ns`, or the path given with `crate = "..."`.
    pub(crate) krate: TokenStream,
    /// `#krate::__private`.
    pub(crate) private: TokenStream,
    /// `ChatMethod`.
    pub(crate) method_enum: Ident,
    /// Generated locals, at `Span::mixed_site()` so that they cannot clash with user code.
    pub(crate) cx: Ident,
    pub(crate) method: Ident,
    pub(crate) event: Ident,
}

impl<'a> Gen<'a> {
    fn new(ns: &'a Namespace<'a>, args: &'a Args) -> Option<Self> {
        let type_ident = ns.type_ident?;
        let krate = match &args.krate {
            Some(path) => quote!(#path),
            None => quote!(::socketio_ns),
        };
        Some(Gen {
            ns,
            args,
            private: quote!(#krate::__private),
            krate,
            method_enum: Ident::new(&format!("{}Method", type_ident.unraw()), type_ident.span()),
            cx: local("cx"),
            method: local("method"),
            event: local("event"),
        })
    }

    /// `#krate::__private` with every token at `span`, to call a runtime function whose trait
    /// bound may fail: rustc reports an unsatisfied bound at the function's path, which then
    /// lies on the user's type rather than on the attribute.
    pub(crate) fn private_at(&self, span: Span) -> TokenStream {
        respan(self.private.clone(), span)
    }

    /// The namespace path.
    fn path(&self) -> LitStr {
        self.args
            .path
            .clone()
            .unwrap_or_else(|| LitStr::new("/", Span::call_site()))
    }

    /// `impl<..> #trait for Chat<..> where ..`, with the lints generated impls allow.
    fn impl_header(&self, trait_: TokenStream) -> TokenStream {
        let (impl_generics, _, where_clause) = self.ns.item.generics.split_for_impl();
        let self_ty = &self.ns.item.self_ty;
        quote! {
            #[automatically_derived]
            #[allow(deprecated)]
            impl #impl_generics #trait_ for #self_ty #where_clause
        }
    }

    /// Everything, for an impl without errors.
    fn full(&self) -> TokenStream {
        let krate = &self.krate;
        let method_id = acl::method_id_impl(self);
        let header = self.impl_header(quote!(#krate::Namespace));
        let path = self.path();
        let methods = acl::methods_const(self);
        let initial_acl = acl::initial_acl_const(self);
        let method_enum = &self.method_enum;
        let hooks = dispatch::hooks(self);
        let method_of = dispatch::method_of(self);
        let overrides = dispatch::overrides(self);
        let dispatch = dispatch::dispatch(self);
        let typescript = typescript::describe(self);
        let registration = self.registration();
        quote! {
            #method_id
            #header {
                const PATH: &'static str = #path;
                #methods
                #initial_acl
                type Method = #method_enum;
                #hooks
                #method_of
                #overrides
                #dispatch
                #typescript
            }
            #registration
        }
    }

    /// After an error: enough of an impl for the rest of the crate (and IDE completion) to
    /// keep working, and nothing that could add errors of its own.
    fn stub(&self) -> TokenStream {
        let krate = &self.krate;
        let method_id = acl::method_id_impl(self);
        let header = self.impl_header(quote!(#krate::Namespace));
        let path = self.path();
        let methods = acl::methods_const(self);
        let method_enum = &self.method_enum;
        quote! {
            #method_id
            #header {
                const PATH: &'static str = #path;
                #methods
                type Method = #method_enum;
                fn method_of(_: &#krate::Event) -> ::core::option::Option<#method_enum> {
                    ::core::option::Option::None
                }
            }
        }
    }

    /// `inventory::submit!` of a registration, for `Server::builder().registered_namespaces()`.
    /// Generic impls are not registered (there is no one type to register).
    fn registration(&self) -> TokenStream {
        if !self.ns.item.generics.params.is_empty() {
            return TokenStream::new();
        }
        let (krate, private) = (&self.krate, &self.private);
        let self_ty = &self.ns.item.self_ty;
        let builder = local("builder");
        quote! {
            fn __socketio_ns_register(#builder: #krate::Builder) -> #krate::Builder {
                #[allow(unused_imports)] // one of the two is picked
                use #private::{RegisterDefault as _, RegisterWithoutDefault as _};
                (&&#private::Maker::<#self_ty>::new()).register(#builder)
            }
            #private::inventory::submit!(#private::Registration::new::<#self_ty>(__socketio_ns_register));
        }
    }
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = proc_macro2::TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// A generated local.
pub(crate) fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// A generated local that an error should point at `at` for (a user's parameter type).
pub(crate) fn local_at(name: &str, at: Span) -> Ident {
    Ident::new(name, Span::mixed_site().located_at(at))
}
