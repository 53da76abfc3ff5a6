//! Expansion snapshots: every `tests/expand/<name>.rs` of the workspace, its `#[namespace]`
//! impls replaced by their expansion and pretty-printed, must equal
//! `tests/expand/<name>.expanded.rs`. `TRYBUILD=overwrite` (the variable that refreshes the
//! UI tests' snapshots too) rewrites the snapshots instead. The runtime crate's
//! `tests/expand.rs` compiles both files under strict lints.

use std::path::{Path, PathBuf};

use quote::ToTokens;

fn expand_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/expand")
}

/// Replaces each `#[namespace(..)]` / `#[socketio_ns::namespace(..)]` impl of the file by
/// its expansion, and pretty-prints the result.
fn expand_file(source: &str) -> String {
    let mut file = syn::parse_file(source).expect("the input parses");
    let mut items = Vec::new();
    for item in file.items.drain(..) {
        let syn::Item::Impl(mut imp) = item else {
            items.push(item);
            continue;
        };
        let position = imp.attrs.iter().position(|a| {
            a.path()
                .segments
                .last()
                .is_some_and(|s| s.ident == "namespace")
        });
        let Some(position) = position else {
            items.push(syn::Item::Impl(imp));
            continue;
        };
        let attr = imp.attrs.remove(position);
        let args = match attr.meta {
            syn::Meta::Path(_) => proc_macro2::TokenStream::new(),
            syn::Meta::List(l) => l.tokens,
            syn::Meta::NameValue(_) => panic!("unexpected #[namespace = ..]"),
        };
        let expanded = crate::expand::namespace(args, imp.into_token_stream());
        let expanded: syn::File = syn::parse2(expanded).expect("the expansion parses");
        items.extend(expanded.items);
    }
    file.items = items;
    prettyplease::unparse(&file)
}

#[test]
fn expansion_snapshots() {
    let overwrite = std::env::var_os("TRYBUILD").is_some_and(|v| v == "overwrite");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(expand_dir())
        .expect("tests/expand exists")
        .map(|e| e.expect("readable directory").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "rs")
                && !p.to_string_lossy().ends_with(".expanded.rs")
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs in tests/expand");
    let mut mismatched = Vec::new();
    for input in inputs {
        let source = std::fs::read_to_string(&input).expect("readable input");
        let name = input.file_stem().unwrap().to_string_lossy().into_owned();
        let expected_path = input.with_file_name(format!("{name}.expanded.rs"));
        let actual = format!(
            "// The expansion of `{name}.rs`, pretty-printed (checked by socketio-ns-derive's unit\n\
             // tests; refresh with `TRYBUILD=overwrite cargo test -p socketio-ns-derive`).\n\n{}",
            expand_file(&source)
        );
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            if overwrite {
                std::fs::write(&expected_path, &actual).expect("writable snapshot");
                eprintln!("wrote {}", expected_path.display());
            } else {
                mismatched.push(format!(
                    "{} differs from the expansion of {}:\n{}",
                    expected_path.display(),
                    input.display(),
                    first_difference(&expected, &actual)
                ));
            }
        }
    }
    assert!(
        mismatched.is_empty(),
        "{}\n(refresh with `TRYBUILD=overwrite cargo test -p socketio-ns-derive` and review the diff)",
        mismatched.join("\n")
    );
}

fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<_>, Vec<_>) = (expected.lines().collect(), actual.lines().collect());
    let line = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    format!(
        "  line {}:\n  expected: {:?}\n  actual:   {:?}",
        line + 1,
        e.get(line).unwrap_or(&"<end>"),
        a.get(line).unwrap_or(&"<end>")
    )
}
