//! Times one argon2id verify at the production parameters natively (`make bench` prints it beside
//! the wasm figure and the login latency measured against `wrangler dev`).

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    use extranet::auth::password_hash::{hash_password, verify_password};
    use std::time::Instant;
    let phc = match hash_password("a benchmark passphrase", [7u8; 16]) {
        Ok(phc) => phc,
        Err(e) => {
            eprintln!("hash failed: {e:?}");
            std::process::exit(1);
        }
    };
    let mut samples: Vec<f64> = (0..30)
        .map(|_| {
            let t = Instant::now();
            let ok = verify_password("a benchmark passphrase", &phc).ok;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if !ok {
                eprintln!("verify failed");
                std::process::exit(1);
            }
            ms
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    println!(
        "BENCH native_argon2_verify_ms p50={:.1} min={:.1} max={:.1} n={}",
        samples[samples.len() / 2],
        samples[0],
        samples[samples.len() - 1],
        samples.len()
    );
}

#[cfg(target_arch = "wasm32")]
fn main() {}
