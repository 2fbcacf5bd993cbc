//! The chat surfaces: the OpenAI-compatible `/v1` API and the chat API (`/api/v1/chat`,
//! `/api/v1/bot/{id}/chat`), and the JSON/SSE answer rendering they share.

mod answer;
pub mod chat_api;
pub mod openai;
