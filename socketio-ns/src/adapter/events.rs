//! Declared outgoing events: what a namespace may send, checked at compile time.
//!
//! A namespace without a declaration sends any event name with any serializable payload
//! ([`Untyped`]: the string API). One that declares its events with [`events!`](crate::events)
//! and `#[namespace("/path", emits = Decl)]` sends only those, each with its declared payload
//! type: its [`Context`](crate::Context), its broadcast operators and
//! [`Io::namespace`](crate::Io::namespace) take the event's marker type instead of a string,
//! and anything else is a compile error at the call.

use crate::codec::socketio::Args;
use crate::codec::typescript::TsNamespace;

/// The events a namespace sends: [`Untyped`], or a declaration made by
/// [`events!`](crate::events).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a declaration of outgoing events",
    label = "not declared with `events!`",
    note = "`emits = ...` names a type declared with `socketio_ns::events! {{ pub {Self} {{ Event = \"name\"(arg: Type), .. }} }}`"
)]
pub trait Events: Send + Sync + 'static {
    /// Describes the declared events for the TypeScript export (feature `typescript`).
    #[doc(hidden)]
    fn __describe(out: &mut TsNamespace) {
        let _ = out;
    }
}

/// The outgoing events of a namespace that declares none: any name (`&str`, `String`), any
/// serializable payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untyped {}

impl Events for Untyped {}

/// `Self` names an event of the declaration `D` whose payload is `A`: what every emit takes.
///
/// Implemented for `&str`, `&String` and `String` under [`Untyped`], and by
/// [`events!`](crate::events) for each declared event's marker type with its payload type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event of `{D}`",
    label = "not an event `{D}` declares",
    note = "a namespace with `emits = {D}` sends only the events `{D}` declares, each named by its type and carrying the payload type declared for it: `emit(EventType, payload)`",
    note = "to send another event, declare it in `events! {{ .. {D} {{ .. }} }}`; a namespace without `emits = ...` takes event names as strings"
)]
pub trait EventOf<D, A> {
    /// The event name on the wire.
    fn event_name(&self) -> &str;
}

impl<A: Args> EventOf<Untyped, A> for &str {
    #[inline]
    fn event_name(&self) -> &str {
        self
    }
}

impl<A: Args> EventOf<Untyped, A> for &String {
    #[inline]
    fn event_name(&self) -> &str {
        self
    }
}

impl<A: Args> EventOf<Untyped, A> for String {
    #[inline]
    fn event_name(&self) -> &str {
        self
    }
}

/// Declares the events a namespace sends and their payload types; give it to the namespace
/// with `#[namespace("/path", emits = Name)]`.
///
/// ```
/// use serde::Serialize;
/// use socketio_ns::{Context, events, namespace};
///
/// #[derive(Serialize)]
/// #[cfg_attr(feature = "typescript", derive(ts_rs::TS))] // for the TypeScript export
/// struct Line {
///     nick: String,
///     text: String,
/// }
///
/// events! {
///     /// What `/chat` sends.
///     pub ChatEvents {
///         /// A line said in a room: one argument.
///         Said = "said"(line: Line),
///         /// Two arguments.
///         Moved = "moved"(from: String, to: String),
///         /// None.
///         Bye = "bye"(),
///     }
/// }
///
/// #[derive(Default)]
/// struct Chat;
///
/// #[namespace("/chat", emits = ChatEvents)]
/// impl Chat {
///     async fn on_say(&mut self, cx: &mut Context<Self>, text: String) {
///         let line = Line { nick: "me".into(), text };
///         let _ = cx.to("lobby").emit(Said, line).await;
///         cx.emit(Moved, ("a".to_string(), "b".to_string()));
///         cx.emit(Bye, ());
///         // cx.emit("said", 5);  // error: `&str` is not an event of `ChatEvents`
///     }
/// }
/// ```
///
/// Each entry makes a unit struct (`Said`) naming the event; its payload is the one argument's
/// type, a tuple of the arguments' types for several, `()` for none. The argument names are
/// used by the TypeScript export (`socketio_ns::typescript`, feature `typescript`), which needs
/// `ts_rs::TS` on every payload type then.
#[macro_export]
macro_rules! events {
    (
        $(#[$meta:meta])*
        $vis:vis $decl:ident {
            $(
                $(#[$emeta:meta])*
                $event:ident = $name:literal ( $($arg:ident : $ty:ty),* $(,)? )
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        $vis enum $decl {}

        impl $crate::Events for $decl {
            fn __describe(out: &mut $crate::codec::typescript::TsNamespace) {
                $(
                    out.server_event(
                        $name,
                        &[$((::core::stringify!($arg), $crate::codec::typescript::ts_type::<$ty>)),*],
                    );
                )*
            }
        }

        $(
            $(#[$emeta])*
            #[doc = ::core::concat!("\n\nThe event `", $name, "` of [`", ::core::stringify!($decl), "`].")]
            #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy, ::core::cmp::PartialEq, ::core::cmp::Eq)]
            $vis struct $event;

            impl $event {
                /// The event name on the wire.
                #[allow(dead_code)]
                $vis const NAME: &'static str = $name;
            }

            impl $crate::EventOf<$decl, <($($ty,)*) as $crate::adapter::Payload>::Type> for $event {
                #[inline]
                fn event_name(&self) -> &str {
                    $name
                }
            }
        )*
    };
}

/// The payload type of an [`events!`](crate::events) entry, from the tuple of its arguments
/// types: `()` for none, the type itself for one, the tuple for several (up to 12).
#[doc(hidden)]
pub trait Payload {
    /// The payload type.
    type Type;
}

impl Payload for () {
    type Type = ();
}

impl<A> Payload for (A,) {
    type Type = A;
}

macro_rules! payload_tuples {
    ($($name:ident)+) => {
        impl<$($name),+> Payload for ($($name,)+) {
            type Type = ($($name,)+);
        }
    };
}

payload_tuples!(A B);
payload_tuples!(A B C);
payload_tuples!(A B C D);
payload_tuples!(A B C D E);
payload_tuples!(A B C D E F);
payload_tuples!(A B C D E F G);
payload_tuples!(A B C D E F G H);
payload_tuples!(A B C D E F G H I);
payload_tuples!(A B C D E F G H I J);
payload_tuples!(A B C D E F G H I J K);
payload_tuples!(A B C D E F G H I J K L);
