//! `make diff FROM=1 TO=2` (`cargo run -p stage-diff -- --from 1 --to 2`):
//! what stage TO adds to stage FROM, as a unified diff without the
//! mechanical renames (package names, crate paths, ports, stage numbers).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(version, about = "What a stage adds to another, without the renames.")]
struct Args {
    /// The earlier stage.
    #[arg(long, env = "FROM")]
    from: u8,
    /// The later stage; default: FROM + 1.
    #[arg(long, env = "TO")]
    to: Option<u8>,
    /// Only paths under this one, e.g. dice-roller or frontend/src.
    #[arg(long, env = "ONLY")]
    only: Option<String>,
    /// The repository; default: the one this tool was built from.
    #[arg(long)]
    root: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let to = args.to.unwrap_or(args.from.saturating_add(1));
    if to == args.from {
        bail!("FROM and TO are the same stage");
    }
    let root = args
        .root
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")));
    let diff = stage_diff::diff_stages(&root, args.from, to, args.only.as_deref())
        .with_context(|| format!("comparing stage {} with stage {to}", args.from))?;
    let mut stdout = std::io::stdout().lock();
    if diff.is_empty() {
        writeln!(
            stdout,
            "stage {to} adds nothing to stage {} here",
            args.from
        )?;
    } else {
        stdout.write_all(diff.as_bytes())?;
    }
    Ok(())
}
