"""dvc.yaml declares exactly the code each stage runs and every data path it touches.

A stage's `cmd` names its module (`gandct <command>` through `gandct.cli.COMMANDS`, or `python -m gandct.x`).

Code: starting from that module, every `gandct` module it imports, directly or through other `gandct`
modules, is parsed with `ast` (`import gandct.x`, `from gandct import x`, `from gandct.x import y`, relative
imports, imports inside functions, and the `__init__.py` of every package on the way; imports under
`if TYPE_CHECKING:` never run and are skipped). Each of those files must be in the stage's `deps` (a folder
dep covers the files in it), except the EXEMPT modules below, which cannot change what a stage writes and
whose own imports are not followed. Every `src/` file in `deps` must be one the stage imports (minimal deps).

Paths: in the same modules, every expression built on `gandct.paths` (`paths.NAME`, `paths.NAME / "x"`,
`paths.func(...)`, and names assigned once from such an expression) is evaluated; what the test cannot see
(variables, f-string fields, arguments) becomes a `*` wildcard segment. Each value under data/, models/ or
reports/ must be one of the stage's deps or outs (outs, metrics and plots) or lie under one; a path that is
not written may also be a folder that holds one (a folder the stage builds file names in, such as
reports/figures or the dvclive folder). Whether a path is written or read is told from the name of the call
it goes into (`write_csv`, `atomic_dir`, `plot_*`... write; `read_csv`, `load_model`, `.is_file()`... read),
which also says which list a failure should add it to. The stages of one `foreach` run the same module, so a
path counts as declared when any stage of the group declares it (train.py writes reports/train/linear only
for `linear`). Paths that come from data rather than from gandct.paths (the image files a manifest lists)
are outside this check.

dvc.yaml's `${...}` templates are resolved against params.yaml, with `foreach` (list or dict) and `matrix`.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import inspect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath

import yaml
from helpers import REPO

from gandct import cli, paths

SRC = REPO / "src"

# Modules that cannot change any output: a stage lists none of them, and the test does not follow their imports.
EXEMPT = {
    "src/gandct/__init__.py": "package docstring and lazy re-exports for library users; no stage uses them",
    "src/gandct/cli.py": "picks the stage module by name; no stage imports it",
    "src/gandct/entry.py": "runs a stage's main and turns its errors into an exit status",
    "src/gandct/errors.py": "exception types; their messages are not outputs",
    "src/gandct/logs.py": "logging set-up; log lines are not outputs",
    "src/gandct/params.py": (
        "a strict schema without defaults or coercion: it accepts or rejects params.yaml but never changes a"
        " value, so a stage reads exactly the params DVC tracks for it"
    ),
}
TRACKED_ROOTS = ("data", "models", "reports")
# Attributes of a path that are still part of the path expression (`paths.DCT_STATS.name` is a file name).
PATH_PARTS = {"name", "stem", "suffix", "parent"}
TEMPLATE = re.compile(r"\$\{\s*([\w.-]+)\s*\}")
WILD = "*"
WRITERS = ("write", "save", "atomic", "plot", "mkdir")  # prefixes of the names of calls that write a path
READERS = ("read", "load", "open", "is_file", "is_dir", "exists", "glob", "iterdir")


@dataclass(frozen=True)
class Stage:
    name: str  # train@paper
    group: str  # train: the dvc.yaml entry it comes from
    module: str  # gandct.stages.train
    deps: tuple[str, ...]
    outs: tuple[str, ...]  # outs, metrics and plots


# --- dvc.yaml -------------------------------------------------------------------------------------------------


def lookup(context: dict, dotted: str) -> object:
    value: object = context
    for key in dotted.split("."):
        assert isinstance(value, dict) and key in value, f"dvc.yaml: ${{{dotted}}} is not in params.yaml"
        value = value[key]
    return value


def substitute(node: object, context: dict) -> object:
    """DVC's templating: a whole-string `${a.b}` keeps the value's type, one inside a string is formatted."""
    if isinstance(node, str):
        whole = TEMPLATE.fullmatch(node)
        if whole:
            return lookup(context, whole[1])
        return TEMPLATE.sub(lambda match: str(lookup(context, match[1])), node)
    if isinstance(node, dict):
        return {substitute(key, context): substitute(value, context) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute(value, context) for value in node]
    return node


def entry_paths(entries: list | None) -> tuple[str, ...]:
    """The paths of deps/outs entries, which are "path" or {"path": {options}}."""
    names = [next(iter(entry)) if isinstance(entry, dict) else entry for entry in entries or []]
    return tuple(str(name).rstrip("/") for name in names)


def stage_module(name: str, cmd: str) -> str:
    words = cmd.split()
    if words[:1] == ["gandct"] and len(words) > 1 and words[1] in cli.COMMANDS:
        return cli.COMMANDS[words[1]][0]
    if words[:2] == ["python", "-m"] and len(words) > 2 and words[2].startswith("gandct."):
        return words[2]
    raise AssertionError(f"stage {name}: cmd {cmd!r} is neither `gandct <command>` nor `python -m gandct.<module>`")


def make_stage(name: str, group: str, body: dict) -> Stage:
    module = stage_module(name, body["cmd"])
    assert module_file(module), f"stage {name}: {module} has no file under src/"
    outs = (*entry_paths(body.get("outs")), *entry_paths(body.get("metrics")), *entry_paths(body.get("plots")))
    return Stage(name, group, module, entry_paths(body.get("deps")), outs)


def dvc_stages() -> Iterator[Stage]:
    spec = yaml.safe_load((REPO / "dvc.yaml").read_text())
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert "vars" not in spec, "dvc.yaml uses `vars`; teach this test's resolver about them"
    for group, body in spec["stages"].items():
        if "foreach" in body:
            items = substitute(body["foreach"], params)
            pairs = items.items() if isinstance(items, dict) else ((str(item), item) for item in items)
            for key, item in pairs:
                yield make_stage(f"{group}@{key}", group, substitute(body["do"], {**params, "key": key, "item": item}))
        elif "matrix" in body:
            axes = {axis: substitute(values, params) for axis, values in body["matrix"].items()}
            rest = {key: value for key, value in body.items() if key != "matrix"}
            for combination in itertools.product(*axes.values()):
                item = dict(zip(axes, combination, strict=True))
                name = f"{group}@{'-'.join(map(str, combination))}"
                yield make_stage(name, group, substitute(rest, {**params, "item": item}))
        else:
            yield make_stage(group, group, substitute(body, params))


# --- imports --------------------------------------------------------------------------------------------------


def module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, except the bodies of `if TYPE_CHECKING:` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:
                yield child
                yield from runtime_nodes(child)
            continue
        yield node
        yield from runtime_nodes(node)


def with_packages(module: str) -> list[str]:
    """gandct.gan.layers -> gandct, gandct.gan, gandct.gan.layers: importing a module runs its packages first."""
    parts = module.split(".")
    return [".".join(parts[: end + 1]) for end in range(len(parts))]


@functools.cache
def imported_modules(module: str) -> frozenset[str]:
    """The gandct modules that importing and running `module` imports."""
    path = module_file(module)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in runtime_nodes(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, node.module] if node.module else package)
            else:
                base = node.module or ""
            names = [base] + [f"{base}.{alias.name}" for alias in node.names if module_file(f"{base}.{alias.name}")]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names = [str(node.args[0].value)]
        for name in names:
            if name == "gandct" or name.startswith("gandct."):
                found.update(part for part in with_packages(name) if module_file(part))
    return frozenset(found)


def code_closure(module: str) -> dict[str, list[str]]:
    """Each file the stage runs -> the import chain that reaches it (files), exempt modules not followed."""
    chains = {relative(module_file(part)): [] for part in with_packages(module)[:-1]}
    chains[relative(module_file(module))] = []
    queue = [module]
    seen = {module}
    while queue:
        current = queue.pop(0)
        current_file = relative(module_file(current))
        if current_file in EXEMPT:
            continue
        for imported in sorted(imported_modules(current)):
            imported_file = relative(module_file(imported))
            chains.setdefault(imported_file, [*chains[current_file], current_file])
            if imported not in seen:
                seen.add(imported)
                queue.append(imported)
    return chains


def module_name(file: str) -> str:
    parts = PurePosixPath(file).relative_to("src").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# --- paths ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathUse:
    pattern: str  # data/processed/*_ids.csv
    where: str  # src/gandct/stages/report.py:47
    action: str  # "writes", "reads" or "uses", from the call the path goes into


def action_of(top: ast.AST, parent: ast.AST | None) -> str:
    """What the call a path goes into does with it, told by the call's name: write_csv(path), path.is_file()."""
    name = ""
    if isinstance(parent, ast.Call) and (top in parent.args or top in [word.value for word in parent.keywords]):
        name = getattr(parent.func, "attr", getattr(parent.func, "id", ""))
    elif isinstance(parent, ast.Attribute) and parent.value is top:
        name = parent.attr
    if name.startswith(WRITERS):
        return "writes"
    return "reads" if name.startswith(READERS) else "uses"


def placeholder(parameter: inspect.Parameter) -> object:
    """What an argument the test cannot see stands for: a wildcard of the parameter's type."""
    return PurePosixPath(WILD) if parameter.annotation in (Path, "Path") else WILD


def is_paths_function(value: object) -> bool:
    return inspect.isfunction(value) and value.__module__ == paths.__name__


def own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a module, class or function, not of the functions and classes defined in it."""
    for node in ast.iter_child_nodes(scope):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        yield node
        yield from own_nodes(node)


def assignment_targets(node: ast.AST) -> list[str]:
    """The plain names a statement or expression binds."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For | ast.AsyncFor | ast.NamedExpr | ast.comprehension):
        targets = [node.target]
    elif isinstance(node, ast.With | ast.AsyncWith):
        targets = [item.optional_vars for item in node.items if item.optional_vars is not None]
    elif isinstance(node, ast.ExceptHandler):
        return [node.name] if node.name else []
    else:
        return []
    return [name.id for target in targets for name in ast.walk(target) if isinstance(name, ast.Name)]


def bound_names(scope: ast.AST) -> set[str]:
    """Names a function or class binds itself (parameters and assignments), which hide the module's."""
    names = {target for node in own_nodes(scope) for target in assignment_targets(node)}
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
        arguments = scope.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
        names.update(argument.arg for argument in every if argument is not None)
    return names


class PathEvaluator:
    """The values of one module's expressions that are built on gandct.paths."""

    def __init__(self, tree: ast.Module) -> None:
        self.bindings: dict[str, object] = {}  # names imported from gandct.paths, or the module itself
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "gandct":
                self.bindings.update(
                    (alias.asname or alias.name, paths) for alias in node.names if alias.name == "paths"
                )
            elif isinstance(node, ast.ImportFrom) and node.module == "gandct.paths":
                self.bindings.update((alias.asname or alias.name, getattr(paths, alias.name)) for alias in node.names)
        self.assigned_values: set[ast.AST] = set()  # right-hand sides stored in a name: checked where it is used
        module_names = self.names_of(tree, {})
        self.scopes: dict[ast.AST, dict[str, object]] = {tree: module_names}
        for scope in ast.walk(tree):
            if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                hidden = bound_names(scope)
                inherited = {name: value for name, value in module_names.items() if name not in hidden}
                self.scopes[scope] = self.names_of(scope, inherited)

    def names_of(self, scope: ast.AST, inherited: dict[str, object]) -> dict[str, object]:
        """The scope's names with a known path: inherited ones, and those it assigns once from a tracked path."""
        assignments: dict[str, list[ast.AST]] = {}
        for node in own_nodes(scope):
            for target in assignment_targets(node):
                assignments.setdefault(target, []).append(node)
        names = dict(inherited)
        for name, nodes in assignments.items():
            if len(nodes) == 1 and isinstance(nodes[0], ast.Assign):
                value = self.evaluate(nodes[0].value, names)
                if rooted(value):
                    names[name] = value
                    self.assigned_values.add(nodes[0].value)
        return names

    def evaluate(self, node: ast.AST, names: dict[str, object]) -> object | None:
        """The value of a path expression (wildcards for what is unknown), or None if it is none."""
        if isinstance(node, ast.Name):
            return names.get(node.id, self.bindings.get(node.id))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(part.value if isinstance(part, ast.Constant) else WILD for part in node.values)
        if isinstance(node, ast.Attribute):
            base = self.evaluate(node.value, names)
            if base is paths:
                return getattr(paths, node.attr, None)
            return getattr(base, node.attr) if isinstance(base, PurePath) and node.attr in PATH_PARTS else None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left = self.evaluate(node.left, names)
            if not isinstance(left, PurePath):
                return None
            right = self.evaluate(node.right, names)
            return left / (right if isinstance(right, str | PurePath) else WILD)
        if isinstance(node, ast.Call):
            function = self.evaluate(node.func, names)
            if is_paths_function(function):
                parameters = inspect.signature(function).parameters
                given = dict(zip(parameters, node.args, strict=False)) | {
                    word.arg: word.value for word in node.keywords
                }
                args = {}
                for name, arg in given.items():
                    value = self.evaluate(arg, names)
                    args[name] = placeholder(parameters[name]) if value is None else value
                try:
                    return function(**args)
                except (TypeError, ValueError) as err:
                    raise AssertionError(f"cannot evaluate {ast.unparse(node)} with {args}: {err}") from err
            if isinstance(node.func, ast.Name) and node.func.id in {"Path", "str"} and len(node.args) == 1:
                return self.evaluate(node.args[0], names)
        return None

    def extends(self, parent: ast.AST, child: ast.AST, names: dict[str, object]) -> bool:
        """True when `parent` is still the path expression that `child` starts."""
        if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Div):
            return parent.left is child
        if isinstance(parent, ast.Attribute):
            return parent.attr in PATH_PARTS
        if isinstance(parent, ast.Call) and (child in parent.args or child in [word.value for word in parent.keywords]):
            if isinstance(parent.func, ast.Name) and parent.func.id in {"Path", "str"}:
                return True
            return is_paths_function(self.evaluate(parent.func, names))
        return False

    def is_start(self, node: ast.AST, names: dict[str, object]) -> bool:
        """A name or `paths.X` holding a tracked path, or a call of a gandct.paths function."""
        if isinstance(node, ast.Call):
            return is_paths_function(self.evaluate(node.func, names))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            return rooted(self.evaluate(node, names))
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            return self.evaluate(node.value, names) is paths and rooted(self.evaluate(node, names))
        return False

    def uses(self, tree: ast.Module, file: str) -> Iterator[PathUse]:
        """Each whole path expression under the tracked roots (an expression it starts, extended outwards)."""
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        for scope, names in self.scopes.items():
            tops: dict[ast.AST, None] = {}  # an ordered set: two starts inside one expression make one use
            for node in own_nodes(scope):
                if self.is_start(node, names):
                    top = node
                    while (parent := parents.get(top)) is not None and self.extends(parent, top, names):
                        top = parent
                    tops[top] = None
            for top in tops:
                value = self.evaluate(top, names)
                if top not in self.assigned_values and rooted(value):
                    action = action_of(top, parents.get(top))
                    yield PathUse(PurePosixPath(value).as_posix(), f"{file}:{top.lineno}", action)


def rooted(value: object) -> bool:
    return isinstance(value, PurePath) and value.parts[:1] != () and value.parts[0] in TRACKED_ROOTS


@functools.cache
def path_uses(file: str) -> list[PathUse]:
    tree = ast.parse((REPO / file).read_text())
    return list(PathEvaluator(tree).uses(tree, file))


def declares(use: PathUse, declared: str) -> bool:
    """The path is the declared one or lies under it; or, unless written, it is a folder that holds it.

    Compared segment by segment, so a `*` never spans a `/`.
    """
    wanted, have = PurePosixPath(use.pattern).parts, PurePosixPath(declared).parts
    if use.action == "writes" and len(wanted) < len(have):
        return False  # writing a whole folder that only holds declared outputs writes undeclared ones too
    shared = min(len(wanted), len(have))
    return all(fnmatch.fnmatchcase(have[index], wanted[index]) for index in range(shared))


# --- the checks -----------------------------------------------------------------------------------------------


def code_problems(stage: Stage) -> list[str]:
    closure = code_closure(stage.module)
    needed = {file: chain for file, chain in closure.items() if file not in EXEMPT}
    listed: dict[str, str] = {}  # a code file in deps -> the dep that covers it
    for dep in stage.deps:
        if not dep.startswith("src/"):
            continue
        target = REPO / dep
        assert target.exists(), f"stage {stage.name}: dep {dep} does not exist"
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        listed.update((relative(file), dep) for file in files)
    problems = []
    for file in sorted(set(needed) - set(listed)):
        via = " -> ".join(PurePosixPath(step).name for step in [*needed[file], file])
        problems.append(f"stage {stage.name}: add `{file}` to deps (imported: {via})")
    for file in sorted(set(listed) - set(needed)):
        reason = f"exempt: {EXEMPT[file]}" if file in EXEMPT else f"{module_name(file)} is not imported"
        problems.append(f"stage {stage.name}: remove `{listed[file]}` from deps ({reason})")
    return problems


def path_problems(stage: Stage, group_declared: tuple[str, ...]) -> list[str]:
    files = [file for file in code_closure(stage.module) if file not in EXEMPT]
    undeclared: dict[str, list[PathUse]] = {}
    for use in (use for file in files for use in path_uses(file)):
        if not any(declares(use, declared) for declared in group_declared):
            undeclared.setdefault(use.pattern, []).append(use)
    problems = []
    for pattern, uses in sorted(undeclared.items()):
        actions = {use.action for use in uses}
        where = ", ".join(f"{use.action} at {use.where}" for use in uses if use.action != "uses" or len(actions) == 1)
        if "writes" in actions:
            advice = "to outs"
        elif "reads" in actions:
            advice = "to deps"
        else:
            advice = "to deps if the stage reads it, to outs if it writes it"
        folder = " (or a folder holding it)" if WILD in pattern else ""
        problems.append(f"stage {stage.name}: add `{pattern}`{folder} {advice} ({where})")
    return problems


def test_every_stage_lists_the_code_it_runs_and_nothing_else() -> None:
    problems = [problem for stage in dvc_stages() for problem in code_problems(stage)]
    assert not problems, "dvc.yaml code deps do not match the imports:\n" + "\n".join(problems)


def test_every_path_a_stage_uses_is_a_dep_or_an_output() -> None:
    stages = list(dvc_stages())
    problems = []
    for stage in stages:
        group = [other for other in stages if other.group == stage.group]
        declared = tuple(path for other in group for path in (*other.deps, *other.outs))
        problems += path_problems(stage, declared)
    header = "dvc.yaml deps/outs miss paths the stages use (`*` is a value known only at run time):\n"
    assert not problems, header + "\n".join(problems)
