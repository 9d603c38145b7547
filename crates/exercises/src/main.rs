//! `make stageN exercises | exercise K | solution K`: list a stage's
//! exercises, take one lesson out of the working tree, put it back.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use exercises::{Exercise, State};

#[derive(Debug, Parser)]
#[command(version, about = "A stage's lessons, taken out for you to put back.")]
struct Args {
    /// The stage.
    #[arg(long)]
    stage: u8,
    /// The repository; default: the one this tool was built from.
    #[arg(long)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Every exercise of the stage, and whether it is applied.
    List,
    /// Takes exercise K's lesson out of the working tree.
    Apply { number: u8 },
    /// Puts exercise K's lesson back as committed.
    Solution { number: u8 },
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let root = args
        .root
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")));
    let stage = args.stage;
    let all = exercises::exercises(&root, stage)
        .with_context(|| format!("reading stage{stage}/exercises"))?;
    let find = |number: u8| all.iter().find(|exercise| exercise.number == number);
    match args.command {
        Action::List => list(&root, stage, &all),
        Action::Apply { number } => match find(number) {
            Some(exercise) => apply(&root, exercise, &all),
            None => no_such(stage, number),
        },
        Action::Solution { number } => match find(number) {
            Some(exercise) => solution(&root, exercise),
            None => no_such(stage, number),
        },
    }
}

fn no_such(stage: u8, number: u8) -> anyhow::Result<ExitCode> {
    eprintln!("stage {stage} has no exercise {number}; `make stage{stage} exercises` lists them");
    Ok(ExitCode::from(2))
}

fn list(root: &Path, stage: u8, all: &[Exercise]) -> anyhow::Result<ExitCode> {
    if all.is_empty() {
        println!("stage {stage} has no exercises");
        return Ok(ExitCode::SUCCESS);
    }
    println!("stage {stage} exercises (`make stage{stage} exercise K` starts one):");
    let width = all.iter().map(|e| e.title.len()).max().unwrap_or(0);
    for exercise in all {
        let state = match exercise.state(root)? {
            State::NotApplied => "not applied",
            State::Applied => "applied: `make stage{stage} test` fails until you put it back",
            State::Changed => "changed by you since it was applied",
        }
        .replace("{stage}", &stage.to_string());
        println!("  {}  {:width$}  {state}", exercise.number, exercise.title);
    }
    println!("each is a section of stage{stage}/README.md");
    Ok(ExitCode::SUCCESS)
}

fn apply(root: &Path, exercise: &Exercise, all: &[Exercise]) -> anyhow::Result<ExitCode> {
    let stage = exercise.stage;
    let changes = exercises::uncommitted_changes(root, stage)?;
    if !changes.is_empty() {
        let applied = all
            .iter()
            .find(|other| matches!(other.state(root), Ok(State::Applied)));
        match applied {
            Some(other) if other.number == exercise.number => {
                println!("exercise {} is already applied", exercise.number);
                print_next_steps(exercise);
                return Ok(ExitCode::SUCCESS);
            }
            Some(other) => eprintln!(
                "exercise {} is applied: finish it, or `make stage{stage} solution {}`, first",
                other.number, other.number
            ),
            None => {
                eprintln!(
                    "stage{stage}/ has changes that are not committed; an exercise would mix with them:"
                );
                for change in &changes {
                    eprintln!("  {change}");
                }
                eprintln!("commit or stash them first (git stash), then run this again");
            }
        }
        return Ok(ExitCode::FAILURE);
    }
    if !exercise.apply(root)? {
        eprintln!(
            "{} does not apply to stage{stage}/ as committed; is this checkout older or newer than the exercise?",
            exercise.path.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    println!("{} applied.", exercise.heading());
    println!("It changed: {}", exercise.files().join(", "));
    print_next_steps(exercise);
    Ok(ExitCode::SUCCESS)
}

fn print_next_steps(exercise: &Exercise) {
    let stage = exercise.stage;
    println!(
        "Read:  {}, section \"{}\" (#{})",
        exercise.readme(),
        exercise.heading(),
        exercise.anchor()
    );
    println!(
        "Run:   make stage{stage} test    (fails until the lesson is back; the failing test is named in that section)"
    );
    println!("See:   make demo STAGE={stage}    (the checklist shows what is missing)");
    println!(
        "Stuck: make stage{stage} solution {}    (puts the original back)",
        exercise.number
    );
}

fn solution(root: &Path, exercise: &Exercise) -> anyhow::Result<ExitCode> {
    let stage = exercise.stage;
    match exercise.state(root)? {
        State::NotApplied => {
            println!(
                "exercise {} is not applied: its files are as committed, nothing to restore",
                exercise.number
            );
            Ok(ExitCode::SUCCESS)
        }
        State::Applied => {
            exercise.restore(root)?;
            println!(
                "{} restored: {} as committed. `make stage{stage} test` passes again.",
                exercise.heading(),
                exercise.files().join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        State::Changed => {
            let files = exercise.files().join(" ");
            eprintln!(
                "the files of exercise {} differ from both the original and the exercise (your own changes?)",
                exercise.number
            );
            eprintln!("  git diff -- {files}        shows them");
            eprintln!("  git checkout -- {files}    puts back the original, dropping them");
            Ok(ExitCode::FAILURE)
        }
    }
}
