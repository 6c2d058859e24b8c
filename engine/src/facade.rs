//! The API a runtime binding re-exports, named for its runtime.

/// Declares a runtime binding's public API for runtime `$rt` (a unit
/// struct implementing [`Runtime`](crate::Runtime) and `Default`): the
/// engine's types with the runtime filled in (`Server`, `Channel`), and
/// `dial`, `dial_timeout`, `dial_unix`, `dial_handler` and
/// `dial_unix_handler` on it, so every binding offers the same vocabulary
/// from one definition.
///
/// `runtime_api!(blocking $rt)` declares only the dial functions, blocking
/// the calling thread and returning the blocking
/// [`blocking::Session`](crate::blocking::Session) (castnet-std's).
#[macro_export]
macro_rules! runtime_api {
    (blocking $rt:ty) => {
        $crate::__dial_api! { [] blocking $rt }
    };
    ($rt:ty) => {
        /// A castnet server on this runtime; see [`castnet_engine::Server`].
        pub type Server<C = $crate::core::PacketN, K = ::std::string::String> =
            $crate::Server<$rt, C, K>;

        /// A channel of a [`Server`]; see [`castnet_engine::Channel`].
        pub type Channel<C = $crate::core::PacketN, K = ::std::string::String> =
            $crate::Channel<$rt, C, K>;

        $crate::__dial_api! { [async] await $rt }
    };
}

/// The dial functions of [`runtime_api!`]: `[async] await` makes them
/// async, `[] blocking` blocks on them.
#[doc(hidden)]
#[macro_export]
macro_rules! __dial_api {
    (@session await $c:ty) => { $crate::Session<$c> };
    (@session blocking $c:ty) => { $crate::blocking::Session<$c> };
    (@run await $e:expr) => { $e.await };
    (@run blocking $e:expr) => {
        $crate::blocking::block_on($e).map(::std::convert::From::from)
    };
    (@handler [$($async:tt)?] $mode:ident $rt:ty, $(#[$doc:meta])*
        $name:ident($to:ident: $to_ty:ty) => $engine:ident
    ) => {
        $(#[$doc])*
        pub $($async)? fn $name<C, H, S>(
            $to: $to_ty,
            config: $crate::Config<C>,
            handler: H,
        ) -> ::std::io::Result<$crate::__dial_api!(@session $mode C)>
        where
            C: $crate::core::Decoder + Clone + Send + Sync + 'static,
            C::Item: Send,
            H: $crate::Handler<C, S>,
            S: Default + Send + 'static,
        {
            $crate::__dial_api!(@run $mode $crate::$engine(&<$rt>::default(), $to, config, handler))
        }
    };
    ([$($async:tt)?] $mode:ident $rt:ty) => {
        /// Connects to a TCP server and returns the session; frames from the
        /// server arrive through `recv`, and once it returns `None`,
        /// [`close_reason`](castnet_engine::Session::close_reason) says why
        /// the session closed. See [`castnet_engine::dial_with`].
        pub $($async)? fn dial<C>(
            addr: impl ::std::net::ToSocketAddrs,
            config: $crate::Config<C>,
        ) -> ::std::io::Result<$crate::__dial_api!(@session $mode C)>
        where
            C: $crate::core::Decoder + Clone + Send + Sync + 'static,
            C::Item: Send,
        {
            $crate::__dial_api!(@run $mode $crate::dial_with(&<$rt>::default(), addr, config))
        }

        /// [`dial`] that gives up with `TimedOut` after `timeout`.
        pub $($async)? fn dial_timeout<C>(
            addr: impl ::std::net::ToSocketAddrs,
            timeout: ::std::time::Duration,
            config: $crate::Config<C>,
        ) -> ::std::io::Result<$crate::__dial_api!(@session $mode C)>
        where
            C: $crate::core::Decoder + Clone + Send + Sync + 'static,
            C::Item: Send,
        {
            $crate::__dial_api!(@run $mode
                $crate::dial_timeout_with(&<$rt>::default(), addr, timeout, config))
        }

        /// Connects to a Unix-socket server at `path`.
        pub $($async)? fn dial_unix<C>(
            path: impl AsRef<::std::path::Path>,
            config: $crate::Config<C>,
        ) -> ::std::io::Result<$crate::__dial_api!(@session $mode C)>
        where
            C: $crate::core::Decoder + Clone + Send + Sync + 'static,
            C::Item: Send,
        {
            $crate::__dial_api!(@run $mode $crate::dial_unix_with(&<$rt>::default(), path, config))
        }

        $crate::__dial_api! { @handler [$($async)?] $mode $rt,
            /// Connects to a TCP server and runs the session with `handler`
            /// (`on_open`, `on_frame`, `on_sent`, `on_close`, with per-session
            /// state), as a server runs its sessions; returns its handle. See
            /// [`castnet_engine::dial_handler_with`].
            dial_handler(addr: impl ::std::net::ToSocketAddrs) => dial_handler_with
        }
        $crate::__dial_api! { @handler [$($async)?] $mode $rt,
            /// [`dial_handler`] to a Unix-socket server at `path`.
            dial_unix_handler(path: impl AsRef<::std::path::Path>) => dial_unix_handler_with
        }
    };
}
