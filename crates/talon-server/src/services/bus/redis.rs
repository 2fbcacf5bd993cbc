//! The bus over Redis pub/sub: a connection of its own subscribed to `<namespace>:bus` (made anew for
//! each subscription), and sends through the connection the limiters share.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;

use super::link::{Subscription, Transport, TransportError};
use crate::limits::RedisLink;

/// How long making the subscription's connection, and subscribing, may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct RedisTransport {
    client: ::redis::Client,
    link: RedisLink,
    channel: String,
}

impl RedisTransport {
    pub(super) fn new(url: &str, link: RedisLink, namespace: &str) -> Result<Self, ::redis::RedisError> {
        Ok(Self { client: ::redis::Client::open(url)?, link, channel: format!("{namespace}:bus") })
    }
}

fn failed(e: impl std::fmt::Display) -> TransportError {
    TransportError(e.to_string())
}

#[async_trait]
impl Transport for RedisTransport {
    fn name(&self) -> &'static str {
        "Redis"
    }

    async fn listen(&self) -> Result<Box<dyn Subscription>, TransportError> {
        let subscribed = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, ::redis::RedisError>(pubsub)
        })
        .await
        .map_err(|_| TransportError(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())))?
        .map_err(failed)?;
        Ok(Box::new(RedisSubscription(subscribed.into_on_message())))
    }

    async fn send(&self, frames: &[String]) -> Result<(), TransportError> {
        let mut connection = self.link.connection().map_err(failed)?;
        let mut pipe = ::redis::pipe();
        for frame in frames {
            pipe.cmd("PUBLISH").arg(&self.channel).arg(frame).ignore();
        }
        pipe.query_async::<()>(&mut connection).await.map_err(failed)
    }
}

struct RedisSubscription(::redis::aio::PubSubStream);

#[async_trait]
impl Subscription for RedisSubscription {
    async fn next(&mut self) -> Result<String, TransportError> {
        match self.0.next().await {
            Some(message) => message.get_payload::<String>().map_err(failed),
            None => Err(TransportError("the connection was closed".into())),
        }
    }
}
