//! Requests run in the context of the runtime that outlives the HTTP workers (the one that
//! built the server), so the sockets and timers they create belong to it.
//!
//! Why: a tokio socket stays bound to the runtime it was opened on, and every actix worker
//! has a runtime of its own that ends when the worker stops. At a graceful shutdown idle
//! workers stop first; a PostgreSQL connection one of them opened, still in the pool, then
//! fails the in-flight request of another worker that takes it ("the Tokio context is being
//! shut down"). Opened in the context of the lasting runtime, pooled connections serve every
//! worker until the pool closes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, web};
use tokio::runtime::Handle;

use crate::state::AppState;

/// Middleware: runs the rest of the request in the context of [`AppState::io_home`].
///
/// # Errors
/// Whatever the inner service fails with.
pub async fn io_home(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let home = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.io_home.clone());
    match home {
        Some(home) => InContext::new(home, next.call(req)).await,
        None => next.call(req).await,
    }
}

/// A future polled with `home` entered: what it opens (sockets, timers, spawned tasks) is
/// `home`'s, whichever thread polls it.
pub struct InContext<F> {
    home: Handle,
    future: Pin<Box<F>>,
}

impl<F: Future> InContext<F> {
    pub fn new(home: Handle, future: F) -> Self {
        InContext {
            home,
            future: Box::pin(future),
        }
    }
}

impl<F: Future> Future for InContext<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _entered = self.home.enter();
        self.future.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// Opens a connection on a runtime of its own (as a worker would), which ends right
    /// after, then uses the connection from another runtime.
    fn connect_on_a_runtime_that_ends(
        address: std::net::SocketAddr,
        home: Option<Handle>,
    ) -> TcpStream {
        std::thread::spawn(move || {
            let worker = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let connect = TcpStream::connect(address);
            match home {
                Some(home) => worker.block_on(InContext::new(home, connect)),
                None => worker.block_on(connect),
            }
            .unwrap()
        })
        .join()
        .unwrap()
    }

    async fn echo_once(listener: &TcpListener, mut stream: TcpStream) -> std::io::Result<()> {
        let (mut peer, _) = listener.accept().await?;
        stream.write_all(b"ping").await?;
        let mut buf = [0; 4];
        peer.read_exact(&mut buf).await?;
        peer.write_all(&buf).await?;
        stream.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"ping");
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_connection_opened_in_the_home_context_outlives_the_runtime_that_opened_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();

        let home = Handle::current();
        let stream = connect_on_a_runtime_that_ends(address, Some(home));
        echo_once(&listener, stream).await.unwrap();

        // The failure the middleware prevents: bound to the ended runtime, the socket is dead.
        let stream = connect_on_a_runtime_that_ends(address, None);
        let error = echo_once(&listener, stream).await.unwrap_err();
        assert!(error.to_string().contains("shut"), "{error}");
    }
}
