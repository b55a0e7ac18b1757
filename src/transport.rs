//! The one module that talks to the network: [`Transport`] over the browser's `fetch`
//! (gloo-net).

use futures::future::LocalBoxFuture;
use gloo_net::http::{Method as FetchMethod, RequestBuilder};
use web_sys::RequestCache;

use crate::client::{HttpRequest, HttpResponse, Method, Transport, Unreachable};

/// Sends requests with `fetch`.
#[derive(Debug, Default, Clone, Copy)]
pub struct FetchTransport;

impl Transport for FetchTransport {
    fn send(
        &self,
        request: HttpRequest,
    ) -> LocalBoxFuture<'static, Result<HttpResponse, Unreachable>> {
        Box::pin(async move {
            let method = match request.method {
                Method::Get => FetchMethod::GET,
                Method::Post => FetchMethod::POST,
            };
            // `no-store`: a user's API data never lands in the HTTP cache (where it would
            // outlive a sign-out), and a retry never queues behind a hung request for the
            // same URL (browsers let only one fetch of a cacheable URL proceed at a time).
            let mut builder = RequestBuilder::new(&request.url)
                .method(method)
                .cache(RequestCache::NoStore)
                .header("Accept", "application/json");
            if let Some(authorization) = &request.authorization {
                builder = builder.header("Authorization", authorization);
            }
            let prepared = match request.json_body {
                Some(body) => builder
                    .header("Content-Type", "application/json")
                    .body(body),
                None => builder.build(),
            };
            let response = prepared
                .map_err(|_| Unreachable)?
                .send()
                .await
                .map_err(|_| Unreachable)?;
            // A body that cannot be read as text is treated as empty; the status decides.
            let body = response.text().await.unwrap_or_default();
            Ok(HttpResponse {
                status: response.status(),
                body,
            })
        })
    }
}
