//! Collection in rounds, for transports where every operation is a round
//! trip to another machine (SSH).
//!
//! The collectors are ordinary sequential code (read a file, then the files
//! it includes), so a remote host cannot be asked for everything up front.
//! Instead each round replays every unfinished collector against the answers
//! gathered so far. An operation without an answer is a *miss*: it is noted,
//! and the collector goes on with a stand-in answer (the file does not
//! exist, the command printed nothing and succeeded) so that it asks for
//! everything else it can already tell it will need. A fact whose collector
//! ran without a miss is final; the others' misses are asked in one batch
//! ([`Transport::batch`], one round trip) and the round starts again. A
//! collector's result is only kept from a round with no miss, so stand-in
//! answers never reach a fact. The number of rounds is the depth of the
//! longest chain of reads (a file names a directory whose files name
//! more files), typically 3 or 4 for the whole Linux benchmark.
//!
//! A stand-in can make a collector ask for something the real answer would
//! have made unnecessary (a fallback file); that costs a read, never a
//! wrong fact, and the transport's command log records it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError, RwLock};

use rayon::prelude::*;

use super::commands;
use super::{collect_one, CommandOutput, Declared, FileStat, OwnerNames, Transport, TransportError, WalkEntry};
use crate::facts::{Fact, FactKey, FactSource};

/// More rounds than any real configuration needs; stops a collector that
/// keeps discovering new reads (an include cycle the depth limits miss).
pub const MAX_ROUNDS: usize = 24;

/// One thing a collector asks of a host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// Run a program with arguments (no shell).
    Run { program: String, args: Vec<String> },
    /// Read a whole file.
    ReadFile { path: String },
    /// `lstat` a path.
    Stat { path: String },
    /// List a directory.
    ListDir { path: String },
    /// Walk a directory tree (see [`Transport::walk`]).
    Walk { path: String, max_depth: usize },
}

/// An [`Op`], and whether it is to run as root through `sudo -n`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Request {
    pub op: Op,
    pub sudo: bool,
}

/// The answer to an [`Op`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutput {
    Run(CommandOutput),
    File(Option<Vec<u8>>),
    Stat(Option<FileStat>),
    /// The entries, each with its `lstat` when the transport had it at no
    /// extra cost (so a later `stat` of an entry needs no round trip).
    List(Option<Vec<DirEntry>>),
    Walk(Option<Vec<WalkEntry>>),
}

/// One entry of a listed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub stat: Option<FileStat>,
}

/// Perform one operation through the transport's own methods.
pub(super) fn perform_directly<T: Transport + ?Sized>(transport: &T, op: &Op) -> Result<OpOutput, TransportError> {
    Ok(match op {
        Op::Run { program, args } => {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            OpOutput::Run(transport.run(program, &args)?)
        }
        Op::ReadFile { path } => OpOutput::File(transport.read_file(path)?),
        Op::Stat { path } => OpOutput::Stat(transport.stat(path)?),
        Op::ListDir { path } => OpOutput::List(
            transport
                .list_dir(path)?
                .map(|names| names.into_iter().map(|name| DirEntry { name, stat: None }).collect()),
        ),
        Op::Walk { path, max_depth } => OpOutput::Walk(transport.walk(path, *max_depth)?),
    })
}

/// Collect `keys` in rounds of one batch each (see the module comment).
/// When a batch fails for the whole host (unreachable, connection lost,
/// timed out), every fact of the host is unavailable with that reason: a
/// host that could not be read to the end is not judged on a part of it.
pub(super) fn collect_in_rounds(transport: &dyn Transport, keys: &BTreeSet<FactKey>, sudo: bool) -> Vec<Fact> {
    let answers = Answers::default();
    let describe = transport.describe();
    let mut done: BTreeMap<FactKey, Fact> = BTreeMap::new();
    let mut last_attempt: BTreeMap<FactKey, Fact> = BTreeMap::new();
    let mut pending: Vec<FactKey> = keys.iter().cloned().collect();
    for _ in 0..MAX_ROUNDS {
        let outcomes: Vec<(FactKey, Fact, BTreeSet<Request>)> = pending
            .par_iter()
            .map(|key| {
                let replay = Replay::new(&answers, &describe, sudo && commands::needs_root(key.kind()));
                let fact = {
                    let declared = Declared::new(&replay, key.kind());
                    let owner_names = OwnerNames::new(&declared);
                    collect_one(&declared, &owner_names, key)
                };
                (key.clone(), fact, replay.into_missed())
            })
            .collect();
        let mut needed = BTreeSet::new();
        let mut still = Vec::new();
        for (key, fact, missed) in outcomes {
            if missed.is_empty() {
                done.insert(key, fact);
            } else {
                needed.extend(missed);
                last_attempt.insert(key.clone(), fact);
                still.push(key);
            }
        }
        if still.is_empty() {
            break;
        }
        let requests: Vec<Request> = needed.into_iter().collect();
        let results = transport.batch(&requests);
        if let Some(error) = results.iter().filter_map(|result| result.as_ref().err()).find(|e| e.is_host_level()) {
            let reason = error.to_string();
            return keys
                .iter()
                .map(|key| {
                    let source = done
                        .remove(key)
                        .or_else(|| last_attempt.remove(key))
                        .map_or(FactSource::Composite { parts: Vec::new() }, |fact| fact.source);
                    Fact::unavailable(key.clone(), reason.clone(), source)
                })
                .collect();
        }
        answers.insert_all(requests, results);
        pending = still;
    }
    keys.iter()
        .map(|key| match done.remove(key) {
            Some(fact) => fact,
            None => {
                let source = last_attempt.remove(key).map_or(FactSource::Composite { parts: Vec::new() }, |f| f.source);
                Fact::unavailable(
                    key.clone(),
                    format!(
                        "internal error: collecting {key} from {describe} needed more than {MAX_ROUNDS} round trips"
                    ),
                    source,
                )
            }
        })
        .collect()
}

/// What the host answered so far, shared by every collector of a host.
#[derive(Default)]
struct Answers {
    map: RwLock<HashMap<Request, Result<OpOutput, TransportError>>>,
}

impl Answers {
    fn get(&self, request: &Request) -> Option<Result<OpOutput, TransportError>> {
        let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
        map.get(request).map(|answer| match answer {
            Ok(output) => Ok(output.clone()),
            Err(error) => Err(error.duplicate()),
        })
    }

    fn insert_all(&self, requests: Vec<Request>, results: Vec<Result<OpOutput, TransportError>>) {
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        for (request, result) in requests.into_iter().zip(results) {
            // A listing that came with each entry's lstat answers those stats too.
            if let (Op::ListDir { path }, Ok(OpOutput::List(Some(entries)))) = (&request.op, &result) {
                for entry in entries {
                    let Some(stat) = entry.stat else { continue };
                    let op = Op::Stat { path: super::text::join_path(path, &entry.name) };
                    map.entry(Request { op, sudo: request.sudo }).or_insert(Ok(OpOutput::Stat(Some(stat))));
                }
            }
            map.insert(request, result);
        }
    }
}

/// A transport made of the answers so far; what it cannot answer is noted
/// as missed and answered with a stand-in.
struct Replay<'a> {
    answers: &'a Answers,
    describe: &'a str,
    sudo: bool,
    missed: Mutex<BTreeSet<Request>>,
}

impl<'a> Replay<'a> {
    fn new(answers: &'a Answers, describe: &'a str, sudo: bool) -> Self {
        Self { answers, describe, sudo, missed: Mutex::new(BTreeSet::new()) }
    }

    fn into_missed(self) -> BTreeSet<Request> {
        self.missed.into_inner().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer to `op`, or `None` after noting it as missed.
    fn answer(&self, op: Op) -> Option<Result<OpOutput, TransportError>> {
        let request = Request { op, sudo: self.sudo };
        let answer = self.answers.get(&request);
        if answer.is_none() {
            self.missed.lock().unwrap_or_else(PoisonError::into_inner).insert(request);
        }
        answer
    }

    fn mismatch(&self, what: &str) -> TransportError {
        TransportError::Io {
            what: format!("{}: {what}", self.describe),
            source: std::io::Error::other("internal error: the answer does not match the operation"),
        }
    }
}

impl Transport for Replay<'_> {
    fn describe(&self) -> String {
        self.describe.to_string()
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<CommandOutput, TransportError> {
        let op = Op::Run { program: program.to_string(), args: args.iter().map(|arg| arg.to_string()).collect() };
        match self.answer(op) {
            None => Ok(CommandOutput { status: Some(0), stdout: Vec::new(), stderr: Vec::new() }),
            Some(Ok(OpOutput::Run(output))) => Ok(output),
            Some(Ok(_)) => Err(self.mismatch(program)),
            Some(Err(error)) => Err(error),
        }
    }

    fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TransportError> {
        match self.answer(Op::ReadFile { path: path.to_string() }) {
            None => Ok(None),
            Some(Ok(OpOutput::File(content))) => Ok(content),
            Some(Ok(_)) => Err(self.mismatch(path)),
            Some(Err(error)) => Err(error),
        }
    }

    fn stat(&self, path: &str) -> Result<Option<FileStat>, TransportError> {
        match self.answer(Op::Stat { path: path.to_string() }) {
            None => Ok(None),
            Some(Ok(OpOutput::Stat(stat))) => Ok(stat),
            Some(Ok(_)) => Err(self.mismatch(path)),
            Some(Err(error)) => Err(error),
        }
    }

    fn list_dir(&self, path: &str) -> Result<Option<Vec<String>>, TransportError> {
        match self.answer(Op::ListDir { path: path.to_string() }) {
            None => Ok(None),
            Some(Ok(OpOutput::List(entries))) => {
                Ok(entries.map(|entries| entries.into_iter().map(|e| e.name).collect()))
            }
            Some(Ok(_)) => Err(self.mismatch(path)),
            Some(Err(error)) => Err(error),
        }
    }

    fn walk(&self, dir: &str, max_depth: usize) -> Result<Option<Vec<WalkEntry>>, TransportError> {
        match self.answer(Op::Walk { path: dir.to_string(), max_depth }) {
            None => Ok(None),
            Some(Ok(OpOutput::Walk(entries))) => Ok(entries),
            Some(Ok(_)) => Err(self.mismatch(dir)),
            Some(Err(error)) => Err(error),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that cannot unwrap should fail loudly
mod tests {
    use super::*;
    use crate::facts::host::fake::FakeTransport;
    use crate::facts::host::{collect, whole_host_kinds};
    use crate::facts::FactValue;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake host that wants batches, counting them.
    struct Remote {
        host: FakeTransport,
        batches: AtomicUsize,
        requests: Mutex<Vec<Request>>,
        fail_from_batch: Option<usize>,
    }

    impl Transport for Remote {
        fn describe(&self) -> String {
            "remote".into()
        }
        fn run(&self, program: &str, args: &[&str]) -> Result<CommandOutput, TransportError> {
            self.host.run(program, args)
        }
        fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, TransportError> {
            self.host.read_file(path)
        }
        fn stat(&self, path: &str) -> Result<Option<FileStat>, TransportError> {
            self.host.stat(path)
        }
        fn list_dir(&self, path: &str) -> Result<Option<Vec<String>>, TransportError> {
            self.host.list_dir(path)
        }
        fn batches(&self) -> bool {
            true
        }
        fn batch(&self, requests: &[Request]) -> Vec<Result<OpOutput, TransportError>> {
            let number = self.batches.fetch_add(1, Ordering::SeqCst) + 1;
            self.requests.lock().unwrap().extend(requests.iter().cloned());
            requests
                .iter()
                .map(|request| {
                    if self.fail_from_batch.is_some_and(|n| number >= n) {
                        return Err(TransportError::ConnectionLost { target: "remote".into(), message: "gone".into() });
                    }
                    perform_directly(&self.host, &request.op)
                })
                .collect()
        }
    }

    fn host() -> FakeTransport {
        FakeTransport::new()
            .file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
            .file("/etc/group", "root:x:0:\n")
            .file("/etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
            .file("/proc/sys/kernel/hostname", "web-1\n")
            .command("uname", &["-r", "-m"], 0, "6.1.0 x86_64\n", "")
            .file("/etc/sudoers", "Defaults use_pty\n@includedir /etc/sudoers.d\n")
            .file("/etc/sudoers.d/admins", "%admin ALL=(ALL) ALL\n@include /etc/sudoers.more\n")
            .file("/etc/sudoers.more", "Defaults logfile=/var/log/sudo.log\n")
            .file("/etc/pam.d/common-auth", "auth required pam_unix.so\n")
    }

    fn remote(fail_from_batch: Option<usize>) -> Remote {
        Remote { host: host(), batches: AtomicUsize::new(0), requests: Mutex::new(Vec::new()), fail_from_batch }
    }

    fn keys(names: &[&str]) -> BTreeSet<FactKey> {
        names.iter().map(|name| FactKey::new(*name)).collect()
    }

    #[test]
    fn rounds_give_the_same_facts_as_direct_collection() {
        let mut names: Vec<&str> = whole_host_kinds();
        names.extend(["host.file:/etc/passwd", "host.file:/etc/missing", "host.text:/etc/os-release"]);
        let requested = keys(&names);
        let direct = collect(&host(), &requested);
        let remote = remote(None);
        let batched = collect(&remote, &requested);
        assert_eq!(direct.len(), batched.len());
        for (a, b) in direct.iter().zip(&batched) {
            assert_eq!((&a.key, &a.value, &a.source), (&b.key, &b.value, &b.source), "{}", a.key);
        }
        // The sudoers chain is the deepest: sudoers -> sudoers.d listing ->
        // admins -> sudoers.more.
        let rounds = remote.batches.load(Ordering::SeqCst);
        assert!((3..=5).contains(&rounds), "{rounds} rounds");
        // Nothing is asked twice.
        let requests = remote.requests.lock().unwrap();
        let unique: BTreeSet<&Request> = requests.iter().collect();
        assert_eq!(unique.len(), requests.len());
    }

    #[test]
    fn a_host_lost_mid_run_makes_every_fact_unavailable() {
        let requested = keys(&["host.os", "host.sudoers", "host.users"]);
        let facts = collect(&remote(Some(2)), &requested);
        assert_eq!(facts.len(), 3);
        for fact in &facts {
            match &fact.value {
                FactValue::Unavailable { reason } => assert!(reason.contains("lost the connection"), "{reason}"),
                FactValue::Available { .. } => panic!("{} should be unavailable", fact.key),
            }
        }
    }
}
