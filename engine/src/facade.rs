//! The API a runtime binding re-exports, named for its runtime.

/// Declares a runtime binding's public API for runtime `$rt` (a unit
/// struct implementing [`Runtime`](crate::Runtime) and `Default`): the
/// engine's types with the runtime filled in (`Server`, `Channel`), and
/// `dial`, `dial_timeout` and `dial_unix` on it, so every binding offers
/// the same vocabulary from one definition.
#[macro_export]
macro_rules! runtime_api {
    ($rt:ty) => {
        /// A castnet server on this runtime; see [`castnet_engine::Server`].
        pub type Server<C = $crate::core::PacketN, K = ::std::string::String> =
            $crate::Server<$rt, C, K>;

        /// A channel of a [`Server`]; see [`castnet_engine::Channel`].
        pub type Channel<C = $crate::core::PacketN, K = ::std::string::String> =
            $crate::Channel<$rt, C, K>;

        /// Connects to a TCP server and returns the session; frames from the
        /// server arrive through [`Session::recv`](castnet_engine::Session::recv).
        pub async fn dial<C>(
            addr: impl ::std::net::ToSocketAddrs,
            config: $crate::Config<C>,
        ) -> ::std::io::Result<$crate::Session<C>>
        where
            C: $crate::core::Decoder + Clone + Send + Sync + 'static,
            C::Item: Send,
        {
            $crate::dial_with(&<$rt>::default(), addr, config).await
        }

        /// [`dial`] that gives up with `TimedOut` after `timeout`.
        pub async fn dial_timeout<C>(
            addr: impl ::std::net::ToSocketAddrs,
            timeout: ::std::time::Duration,
            config: $crate::Config<C>,
        ) -> ::std::io::Result<$crate::Session<C>>
        where
            C: $crate::core::Decoder + Clone + Send + Sync + 'static,
            C::Item: Send,
        {
            $crate::dial_timeout_with(&<$rt>::default(), addr, timeout, config).await
        }

        /// Connects to a Unix-socket server at `path`.
        pub async fn dial_unix<C>(
            path: impl AsRef<::std::path::Path>,
            config: $crate::Config<C>,
        ) -> ::std::io::Result<$crate::Session<C>>
        where
            C: $crate::core::Decoder + Clone + Send + Sync + 'static,
            C::Item: Send,
        {
            $crate::dial_unix_with(&<$rt>::default(), path, config).await
        }
    };
}
