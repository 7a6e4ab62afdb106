//! The hardened Rhai engine: one place that sets every limit, compiles each
//! check once (merged with its provider's prelude) and runs it against a
//! target's facts, turning every script fault into a positioned error.

pub mod api;
pub mod heap;
pub mod helpers;
pub mod values;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, Position, Scope, AST};

pub use api::{FactProblem, FactsHandle, ScriptFacts, ScriptFinding};

use crate::catalog::{CatalogError, CheckDef, PreludeFile};
use crate::facts::FactKey;

/// The entry function every check defines.
pub const ENTRY: &str = "check";

/// Resource limits of one check evaluation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    pub max_operations: u64,
    pub max_call_levels: usize,
    pub max_expr_depth: usize,
    pub max_function_expr_depth: usize,
    /// Heap growth allowed to one evaluation, in bytes: bounds every string,
    /// array and map a script builds. It counts the bytes the evaluating
    /// thread allocated during this evaluation (see [`heap`]), so neighbours
    /// never count, and the verdict does not depend on the host. (Rhai's own
    /// size limits re-measure a container after every operation on it, which
    /// makes ordinary loops over a large host quadratic; the budget costs one
    /// thread-local read per operation.)
    pub max_memory: usize,
    pub max_duration: Duration,
    /// (check id, target) pairs not run but reported, with the recorded
    /// message, as stopped by the time limit: the outcome an evidence pack
    /// recorded for them, which `posture verify` honours instead of
    /// re-running them against its own clock. Never serialised: the record
    /// is the finding itself (see [`is_time_limit_message`]).
    #[serde(skip)]
    pub timed_out_in_pack: BTreeMap<(String, String), String>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_operations: 50_000_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_function_expr_depth: 64,
            max_memory: 512 * 1024 * 1024,
            max_duration: Duration::from_secs(10),
            timed_out_in_pack: BTreeMap::new(),
        }
    }
}

/// The limits of the evaluation running on this thread.
#[derive(Clone, Copy)]
struct Budget {
    /// None: no wall-clock limit (a duration too long to represent, as
    /// `posture verify` asks for: only deterministic limits apply there).
    deadline: Option<Instant>,
    /// The reading of [`heap::thread_held`] this evaluation may not exceed.
    heap_ceiling: isize,
    max_memory: usize,
}

thread_local! {
    static BUDGET: Cell<Option<Budget>> = const { Cell::new(None) };
}

/// The bytes the evaluation running on this thread may still allocate
/// (`usize::MAX` when no evaluation runs here).
pub(crate) fn heap_room() -> usize {
    match BUDGET.with(Cell::get) {
        Some(budget) => usize::try_from(budget.heap_ceiling.saturating_sub(heap::thread_held())).unwrap_or(0),
        None => usize::MAX,
    }
}

/// The memory budget of the evaluation running on this thread, in bytes.
pub(crate) fn current_max_memory() -> usize {
    BUDGET.with(Cell::get).map_or(0, |budget| budget.max_memory)
}

/// Whether the evaluation running on this thread is past its memory budget.
pub(crate) fn over_memory_budget() -> bool {
    BUDGET.with(Cell::get).is_some_and(|budget| heap::thread_held() > budget.heap_ceiling)
}

/// The message of a script stopped by its memory budget.
pub(crate) fn memory_limit_message(max_memory: usize) -> String {
    format!("the script exceeded its memory limit ({} MiB)", max_memory / (1024 * 1024))
}

/// The message of a script stopped by the wall clock: the one limit whose
/// outcome depends on the machine, recognised by `posture verify` in a
/// recorded finding (see [`is_time_limit_message`]).
pub const TIME_LIMIT_MESSAGE: &str = "the script exceeded its time limit";

/// Whether a finding's message records a check stopped by the wall clock.
pub fn is_time_limit_message(message: &str) -> bool {
    message.starts_with("check failed: ") && message.ends_with(TIME_LIMIT_MESSAGE)
}

/// How often (in operations) the wall-clock limit is looked at.
const CLOCK_CHECK_INTERVAL: u64 = 4096;

/// A script fault, positioned in the file that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFailure {
    pub path: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ScriptFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "{}:{line}:{column}: {}", self.path, self.message),
            _ => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// A check ready to run: its metadata and its compiled script.
#[derive(Debug, Clone)]
pub struct CompiledCheck {
    pub check: CheckDef,
    ast: AST,
    declared: Arc<Vec<FactKey>>,
}

/// What one evaluation of a check produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub findings: Vec<ScriptFinding>,
    /// Facts the script read, in first-read order.
    pub facts_read: Vec<FactKey>,
    /// Failed fact reads; when present, the findings must not be trusted.
    pub fact_problems: Vec<FactProblem>,
    pub failure: Option<ScriptFailure>,
}

pub struct ScriptEngine {
    engine: Engine,
    max_memory: usize,
    preludes: BTreeMap<String, Result<AST, CatalogError>>,
}

impl ScriptEngine {
    /// Builds the engine and compiles each provider's prelude.
    pub fn new(limits: &Limits, preludes: &BTreeMap<String, Vec<PreludeFile>>) -> Self {
        let engine = hardened_engine(limits);
        let preludes =
            preludes.iter().map(|(provider, files)| (provider.clone(), compile_prelude(&engine, files))).collect();
        Self { engine, preludes, max_memory: limits.max_memory }
    }

    /// Compiles a check merged with its provider's prelude, and checks the
    /// entry-function contract.
    pub fn compile(&self, check: &CheckDef) -> Result<CompiledCheck, CatalogError> {
        let mut ast = self.engine.compile(&check.source).map_err(|err| {
            let (line, column) = position(err.position());
            positioned(CatalogError::new(&check.path, format!("syntax error: {}", err.err_type())), line, column)
                .for_check(&check.meta.id)
        })?;
        ast.set_source(check.path.as_str());
        let has_entry = ast.iter_functions().any(|f| f.name == ENTRY && f.params.len() == 1);
        if !has_entry {
            return Err(CatalogError::new(&check.path, format!("the script defines no `fn {ENTRY}(facts)`"))
                .at(check.body_line, 1)
                .for_check(&check.meta.id));
        }
        let ast = match self.preludes.get(&check.provider) {
            Some(Ok(prelude)) => prelude.merge(&ast),
            // Reported once, without a check: the fault is in the shared prelude.
            Some(Err(problem)) => return Err(problem.clone()),
            None => ast,
        };
        Ok(CompiledCheck { check: check.clone(), ast, declared: Arc::new(check.meta.facts.clone()) })
    }

    /// Runs a compiled check against a target's facts.
    pub fn run(&self, compiled: &CompiledCheck, facts: Arc<ScriptFacts>, max_duration: Duration) -> Outcome {
        let handle = FactsHandle::new(facts, compiled.declared.clone());
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        let budget = Budget {
            deadline: Instant::now().checked_add(max_duration),
            heap_ceiling: heap::thread_held().saturating_add(isize::try_from(self.max_memory).unwrap_or(isize::MAX)),
            max_memory: self.max_memory,
        };
        BUDGET.with(|b| b.set(Some(budget)));
        let result = self.engine.call_fn_with_options::<Dynamic>(
            options,
            &mut Scope::new(),
            &compiled.ast,
            ENTRY,
            (handle.clone(),),
        );
        BUDGET.with(|b| b.set(None));
        let (facts_read, fact_problems) = handle.take_reads();
        let path = &compiled.check.path;
        let (findings, failure) = match result {
            Ok(value) => match findings_of(value) {
                Ok(findings) if findings.is_empty() => (
                    Vec::new(),
                    Some(ScriptFailure {
                        path: path.clone(),
                        line: None,
                        column: None,
                        message: format!("`{ENTRY}` returned no finding; a check with nothing to judge returns not_applicable with the reason"),
                    }),
                ),
                Ok(findings) => (findings, None),
                Err(message) => (Vec::new(), Some(ScriptFailure { path: path.clone(), line: None, column: None, message })),
            },
            Err(err) => (Vec::new(), Some(failure_of(&err, path))),
        };
        Outcome { findings, facts_read, fact_problems, failure }
    }
}

fn hardened_engine(limits: &Limits) -> Engine {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth)
        .set_max_modules(0)
        .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new())
        .set_strict_variables(true)
        .disable_symbol("eval");
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    let max_memory = limits.max_memory;
    engine.on_progress(move |operations| {
        let budget = BUDGET.with(Cell::get)?;
        if heap::thread_held() > budget.heap_ceiling {
            return Some(Dynamic::from(memory_limit_message(max_memory)));
        }
        if operations % CLOCK_CHECK_INTERVAL == 0 && budget.deadline.is_some_and(|deadline| Instant::now() > deadline) {
            return Some(Dynamic::from(TIME_LIMIT_MESSAGE));
        }
        None
    });
    api::register(&mut engine);
    values::register(&mut engine);
    helpers::register(&mut engine, limits.max_memory);
    api::guard_bulk_allocations(&mut engine, limits.max_memory);
    engine
}

fn compile_prelude(engine: &Engine, files: &[PreludeFile]) -> Result<AST, CatalogError> {
    let mut merged = AST::empty();
    let mut owners: BTreeMap<(String, usize), String> = BTreeMap::new();
    for file in files {
        let mut ast = engine.compile(&file.source).map_err(|err| {
            let (line, column) = position(err.position());
            positioned(
                CatalogError::new(&file.path, format!("syntax error in prelude: {}", err.err_type())),
                line,
                column,
            )
        })?;
        ast.set_source(file.path.as_str());
        for function in ast.iter_functions() {
            let signature = (function.name.to_owned(), function.params.len());
            if let Some(previous) = owners.insert(signature.clone(), file.path.clone()) {
                return Err(CatalogError::new(
                    &file.path,
                    format!(
                        "prelude function '{}' ({} parameters) is also defined in {previous}",
                        signature.0, signature.1
                    ),
                ));
            }
        }
        // Only function definitions of a prelude are used.
        merged = merged.merge(&ast.clone_functions_only());
    }
    Ok(merged)
}

fn findings_of(value: Dynamic) -> Result<Vec<ScriptFinding>, String> {
    let type_name = value.type_name().to_owned();
    let Some(array) = value.try_cast::<rhai::Array>() else {
        return Err(format!("`{ENTRY}` returned {type_name}; expected an array of findings"));
    };
    array
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let item_type = item.type_name().to_owned();
            item.try_cast::<ScriptFinding>().ok_or_else(|| {
                format!("element {index} of the returned array is {item_type}, not a finding (build findings with pass/fail/not_applicable/error)")
            })
        })
        .collect()
}

fn position(pos: Position) -> (Option<usize>, Option<usize>) {
    (pos.line(), pos.position())
}

fn positioned(error: CatalogError, line: Option<usize>, column: Option<usize>) -> CatalogError {
    match line {
        Some(line) => error.at(line, column.unwrap_or(1)),
        None => error,
    }
}

/// The innermost error of a call chain, with the file it happened in.
fn failure_of(err: &EvalAltResult, check_path: &str) -> ScriptFailure {
    let mut path = check_path.to_owned();
    let mut current = err;
    let mut outer_position = err.position();
    while let EvalAltResult::ErrorInFunctionCall(_, source, inner, pos) = current {
        if !source.is_empty() {
            path = source.clone();
        }
        if !pos.is_none() {
            outer_position = *pos;
        }
        current = inner;
    }
    let position = if current.position().is_none() { outer_position } else { current.position() };
    let message = match current {
        EvalAltResult::ErrorTooManyOperations(_) => "the script exceeded its operation limit".to_owned(),
        EvalAltResult::ErrorTerminated(token, _) => token.to_string(),
        EvalAltResult::ErrorStackOverflow(_) => "the script exceeded its call depth limit".to_owned(),
        EvalAltResult::ErrorDataTooLarge(what, _) => format!("the script exceeded a size limit: {what}"),
        EvalAltResult::ErrorRuntime(value, _) => format!("script error: {value}"),
        other => other.to_string().split(" (line ").next().unwrap_or_default().to_owned(),
    };
    let (line, column) = self::position(position);
    ScriptFailure { path, line, column, message }
}
