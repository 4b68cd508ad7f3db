//! The bench's control worker: `/health` does no work, `/floor` runs one D1 `SELECT 1` through the
//! binding and answers its row. Nothing else, so that what the project adds to a request shows as
//! the difference between the two (scripts/bench.mjs).

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    match req.path().as_str() {
        "/health" => json(r#"{"status":"ok"}"#.to_owned()),
        "/floor" => {
            let row = env.d1("DB")?.prepare("SELECT 1 AS ok").first::<serde_json::Value>(None).await?;
            json(serde_json::json!({ "status": "ok", "row": row }).to_string())
        }
        _ => Response::error("not found", 404),
    }
}

fn json(body: String) -> Result<Response> {
    let mut resp = Response::ok(body)?;
    resp.headers_mut().set("content-type", "application/json")?;
    Ok(resp)
}
