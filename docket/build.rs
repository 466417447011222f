//! Builds the agent console (`web/`, TypeScript bundled by esbuild) and embeds its files in the
//! binary, so `docket serve` serves it with nothing else installed at run time.
//!
//! `npm ci` runs when `web/node_modules` is missing or older than the lockfile, then
//! `npm run build` writes `web/dist/`. Set `DOCKET_WEB_DIST` to a folder holding a built console
//! to embed that instead (node is then not needed). Text files are also embedded gzip-compressed
//! (compressed once here rather than on every request).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Inputs of the web build: a change in any of them rebuilds the console.
const WEB_INPUTS: &[&str] = &["src", "openapi.json", "package.json", "package-lock.json", "build.mjs", "tsconfig.json", "scripts"];

fn main() {
    println!("cargo:rerun-if-env-changed=DOCKET_WEB_DIST");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dist = match std::env::var_os("DOCKET_WEB_DIST") {
        Some(dist) => PathBuf::from(dist),
        None => {
            let web = manifest.parent().expect("the docket crate sits in the workspace").join("web");
            for input in WEB_INPUTS {
                println!("cargo:rerun-if-changed={}", web.join(input).display());
            }
            build_console(&web);
            web.join("dist")
        }
    };
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    embed(&dist, &out);
}

fn build_console(web: &Path) {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let stale_modules = {
        let installed = std::fs::metadata(web.join("node_modules/.package-lock.json")).and_then(|m| m.modified());
        let locked = std::fs::metadata(web.join("package-lock.json")).and_then(|m| m.modified());
        match (installed, locked) {
            (Ok(installed), Ok(locked)) => installed < locked,
            _ => true,
        }
    };
    if stale_modules {
        run(Command::new(npm).args(["ci", "--no-audit", "--no-fund"]).current_dir(web), "npm ci");
    }
    run(Command::new(npm).args(["run", "build"]).current_dir(web), "npm run build");
}

fn run(command: &mut Command, what: &str) {
    match command.output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => {
            panic!("{what} failed in web/ ({}):\n{}\n{}", output.status, String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
        }
        Err(e) => panic!(
            "cannot run {what} ({e}): the console is built with node and npm; install them (e.g. `apt-get install nodejs npm`) \
             or set DOCKET_WEB_DIST to a built console"
        ),
    }
}

/// Writes `$OUT_DIR/console_assets.rs`: `ASSETS`, one `Asset` per file of `dist` (relative
/// path, bytes, gzip bytes for text).
fn embed(dist: &Path, out: &Path) {
    let mut files = Vec::new();
    collect(dist, dist, &mut files);
    for page in ["index.html", "portal.html"] {
        assert!(files.iter().any(|(path, _)| path == page), "{} holds no {page}: the web app was not built", dist.display());
    }
    files.sort();
    let mut code = String::from("pub static ASSETS: &[Asset] = &[\n");
    for (index, (path, absolute)) in files.iter().enumerate() {
        let gzip = if compressible(path) {
            let bytes = std::fs::read(absolute).expect("read a console file");
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(&bytes).expect("compress in memory");
            let compressed = out.join(format!("asset-{index}.gz"));
            std::fs::write(&compressed, encoder.finish().expect("compress in memory")).expect("write to OUT_DIR");
            format!("Some(include_bytes!({:?}))", compressed.display().to_string())
        } else {
            "None".to_owned()
        };
        writeln!(code, "    Asset {{ path: {path:?}, bytes: include_bytes!({:?}), gzip: {gzip} }},", absolute.display().to_string())
            .expect("write to a String");
    }
    code.push_str("];\n");
    std::fs::write(out.join("console_assets.rs"), code).expect("write to OUT_DIR");
}

fn collect(root: &Path, folder: &Path, files: &mut Vec<(String, PathBuf)>) {
    let entries = std::fs::read_dir(folder).unwrap_or_else(|e| panic!("cannot read {}: {e}", folder.display()));
    for entry in entries {
        let path = entry.expect("list a folder").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.extension().is_none_or(|e| e != "map") {
            let relative = path.strip_prefix(root).expect("under the root").to_string_lossy().replace('\\', "/");
            files.push((relative, path));
        }
    }
}

fn compressible(path: &str) -> bool {
    [".html", ".js", ".css", ".json", ".svg", ".txt"].iter().any(|e| path.ends_with(e))
}
