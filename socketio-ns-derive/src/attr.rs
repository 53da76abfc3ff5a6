//! The attribute's own arguments, `#[namespace("/chat", acl = [...], emits = Decl, crate = "...", vis = ...)]`,
//! and the helper attributes on methods, `#[event("name")]` and `#[fallback]`.

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitStr, Token, Visibility};

use crate::errors::Errors;

/// The arguments of `#[namespace(...)]`.
pub(crate) struct Args {
    /// The namespace path; `/` when left out.
    pub(crate) path: Option<LitStr>,
    /// `acl = [on_login, ...]`: the initial ACL.
    pub(crate) acl: Option<Vec<Ident>>,
    /// `crate = "path"`: where the runtime crate is, for a renamed dependency.
    pub(crate) krate: Option<syn::Path>,
    /// `vis = pub(crate)`: the visibility of the generated method enum (`pub` by default).
    pub(crate) vis: Option<Visibility>,
    /// `emits = ChatEvents`: the declaration of the events the namespace sends.
    pub(crate) emits: Option<syn::Path>,
}

/// Parses the attribute's arguments. A syntax error stops the parse (and is recorded); an
/// option that parses but is wrong (unknown, repeated, a bad path) is recorded and skipped,
/// so the rest is still checked.
pub(crate) fn parse_args(tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args {
        path: None,
        acl: None,
        krate: None,
        vis: None,
        emits: None,
    };
    let parser = |input: ParseStream<'_>| -> syn::Result<()> {
        if input.peek(LitStr) {
            let path: LitStr = input.parse()?;
            let value = path.value();
            if !value.starts_with('/') {
                errors.at(&path, "a namespace path starts with `/`, as in \"/chat\"");
            }
            args.path = Some(path);
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        while !input.is_empty() {
            let key = Ident::parse_any(input)?;
            input.parse::<Token![=]>()?;
            let repeated = |errors: &mut Errors| errors.at(&key, format!("`{key}` is given twice"));
            match key.to_string().as_str() {
                "acl" => {
                    let content;
                    syn::bracketed!(content in input);
                    let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                    if args.acl.is_some() {
                        repeated(errors);
                    }
                    args.acl = Some(names.into_iter().collect());
                }
                "crate" => {
                    let lit: LitStr = input.parse()?;
                    match lit.parse_with(syn::Path::parse_mod_style) {
                        Ok(path) if args.krate.is_none() => args.krate = Some(path),
                        Ok(_) => repeated(errors),
                        Err(_) => errors.at(
                            &lit,
                            "expected the path of the socketio_ns crate, as in \"my_socketio\"",
                        ),
                    }
                }
                "emits" => {
                    let path: syn::Path = input.parse()?;
                    if args.emits.is_some() {
                        repeated(errors);
                    }
                    args.emits = Some(path);
                }
                "vis" => {
                    let vis: Visibility = input.parse()?;
                    if args.vis.is_some() {
                        repeated(errors);
                    }
                    args.vis = Some(vis);
                }
                _ => {
                    errors.at(
                        &key,
                        format!("unknown option `{key}`: expected `acl = [...]`, `emits = EventsDeclaration`, `crate = \"...\"` or `vis = ...`"),
                    );
                    // Skip the value.
                    while !input.is_empty() && !input.peek(Token![,]) {
                        input.parse::<proc_macro2::TokenTree>()?;
                    }
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(())
    };
    if let Err(e) = parser.parse2(tokens) {
        errors.push(syn::Error::new(
            e.span(),
            format!("{e}; expected #[namespace(\"/path\", acl = [method, ...])]"),
        ));
    }
    args
}

/// The helper attributes found on one method (left out of the emitted impl by `expand`).
#[derive(Default)]
pub(crate) struct Helpers<'a> {
    /// `#[event("name")]`.
    pub(crate) event: Option<LitStr>,
    /// `#[fallback]`, kept for its span.
    pub(crate) fallback: Option<&'a Attribute>,
}

/// Whether an attribute is one of ours.
pub(crate) fn is_helper(attr: &Attribute) -> bool {
    attr.path().is_ident("event") || attr.path().is_ident("fallback")
}

/// Reads (and validates the syntax of) the helper attributes of a method.
pub(crate) fn parse_helpers<'a>(attrs: &'a [Attribute], errors: &mut Errors) -> Helpers<'a> {
    let mut helpers = Helpers::default();
    for attr in attrs {
        if attr.path().is_ident("event") {
            match attr.parse_args::<LitStr>() {
                Ok(name) if helpers.event.is_none() => helpers.event = Some(name),
                Ok(_) => errors.at(
                    attr,
                    "one `#[event(\"...\")]` per method: a method handles one event",
                ),
                Err(_) => errors.at(attr, "expected `#[event(\"event name\")]`"),
            }
        } else if attr.path().is_ident("fallback") {
            if !matches!(attr.meta, syn::Meta::Path(_)) {
                errors.at(attr, "`#[fallback]` takes no arguments");
            } else if helpers.fallback.is_some() {
                errors.at(attr, "`#[fallback]` is given twice");
            }
            helpers.fallback.get_or_insert(attr);
        }
    }
    helpers
}
