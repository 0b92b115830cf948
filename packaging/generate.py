#!/usr/bin/env python3
"""Man pages and shell completions from the programs' own --help (the one source of both).

  packaging/generate.py BIN_DIR OUT_DIR

walks `cohort --help` and every subcommand's `--help` (CLI11's layout: a description line, a
Usage line, an Options block and a Subcommands block), `cohortd --help` and `cohort-sim
--help`, and writes OUT_DIR/man/{cohortd.8,cohort.1,cohort-sim.1} (roff) and
OUT_DIR/completion/{cohort.bash,_cohort} (bash and zsh). Used by scripts/package."""
import datetime
import os
import re
import subprocess
import sys

COLUMN = 30  # CLI11 starts descriptions here; a longer name puts it on the next line


def help_of(binary, path):
    p = subprocess.run([binary, *path, "--help"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        sys.exit(f"generate.py: {' '.join([binary, *path])} --help exited {p.returncode}")
    return p.stdout


def parse(text):
    """{'about', 'usage', 'options': [(names, description)], 'subcommands': [(name, about)]}"""
    lines = text.splitlines()
    doc = {"about": lines[0].strip() if lines else "", "usage": "", "options": [],
           "subcommands": []}
    section = None
    for line in lines[1:]:
        if line.startswith("Usage:"):
            doc["usage"] = line[len("Usage:"):].strip()
            continue
        if line.rstrip().endswith(":") and not line.startswith(" "):
            section = {"Options:": "options", "Subcommands:": "subcommands"}.get(line.strip())
            continue
        if section is None or not line.strip():
            continue
        if line.startswith(" " * COLUMN) and doc[section]:
            name, about = doc[section][-1]
            doc[section][-1] = (name, (about + " " + line.strip()).strip())
            continue
        if not line.startswith("  ") or line[2] == " ":
            continue
        if len(line) > COLUMN and line[COLUMN - 1] == " ":
            doc[section].append((line[:COLUMN].strip(), line[COLUMN:].strip()))
        else:  # a name too long for its column: the description follows on the next line
            doc[section].append((line.strip(), ""))
    return doc


def walk(binary, path=()):
    """Every command of the tree: [(path, doc)], parents first."""
    doc = parse(help_of(binary, list(path)))
    out = [(path, doc)]
    for name, _ in doc["subcommands"]:
        out += walk(binary, (*path, name))
    return out


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def man_page(program, section, tree, date, version):
    out = [f'.TH {program.upper()} {section} "{date}" "cohort {version}" "cohort manual"',
           ".SH NAME", f"{program} \\- {roff(tree[0][1]['about'].split(': ', 1)[-1])}",
           ".SH SYNOPSIS", f".B {program}", roff(re.sub(r"^\S+\s*", "", tree[0][1]["usage"]))]
    out += [".SH DESCRIPTION", roff(tree[0][1]["about"]) + ".",
            "This page is generated from the program's --help; README.md and docs/ in",
            "/usr/share/doc/cohort hold the guides."]
    for path, doc in tree:
        if path:
            out += [".SH " + roff(" ".join(path).upper()) if len(path) == 1
                    else ".SS " + roff(" ".join(path)),
                    f".B {program} {roff(' '.join(path))}", ".br", roff(doc["about"])]
        elif doc["options"]:
            out.append(".SH OPTIONS")
        for names, about in doc["options"]:
            if names.startswith("-h,--help"):
                continue
            out += [".TP", f".B {roff(names)}", roff(about)]
    out += [".SH EXIT STATUS",
            "0 on success; 2 for a bad command line or configuration; 1 for other errors.",
            "cohort doctor exits 0 healthy, 1 degraded, 2 down.",
            ".SH SEE ALSO", "cohortd(8), cohort(1), cohort-sim(1)"]
    return "\n".join(out) + "\n"


def words(doc):
    opts = [n for names, _ in doc["options"]
            for n in re.findall(r"--[\w-]+", names.split(" ")[0])]
    return [name for name, _ in doc["subcommands"]] + opts


def key(path):
    return " ".join(("cohort", *path))  # never empty: bash's associative arrays refuse ""


def bash_completion(tree):
    table = "\n".join(f'  ["{key(path)}"]="{" ".join(words(doc))}"' for path, doc in tree)
    return f"""# bash completion for cohort, generated from its --help by packaging/generate.py
declare -gA _cohort_words=(
{table}
)
_cohort() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} path=cohort w i
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${{COMP_WORDS[i]}}
    [[ $w == -* ]] && continue
    if [[ -n ${{_cohort_words["$path $w"]+set}} ]]; then path="$path $w"; fi
  done
  COMPREPLY=($(compgen -W "${{_cohort_words[$path]}}" -- "$cur"))
}}
complete -F _cohort cohort
"""


def zsh_completion(tree):
    table = "\n".join(f'    "{key(path)}" "{" ".join(words(doc))}"' for path, doc in tree)
    return f"""#compdef cohort
# zsh completion for cohort, generated from its --help by packaging/generate.py
_cohort() {{
  local -A table
  table=(
{table}
  )
  local path=cohort w i
  for ((i = 2; i < CURRENT; i++)); do
    w=${{words[i]}}
    [[ $w == -* ]] && continue
    if (( ${{+table[$path $w]}} )); then path="$path $w"; fi
  done
  compadd -- ${{=table[$path]}}
}}
_cohort "$@"
"""


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: packaging/generate.py BIN_DIR OUT_DIR")
    bin_dir, out = sys.argv[1], sys.argv[2]
    version = os.environ.get("COHORT_VERSION", "0")
    # Reproducible: the date of the source, not of the build.
    date = datetime.datetime.fromtimestamp(int(os.environ.get("SOURCE_DATE_EPOCH", "0")),
                                           datetime.timezone.utc).strftime("%Y-%m-%d")
    os.makedirs(os.path.join(out, "man"), exist_ok=True)
    os.makedirs(os.path.join(out, "completion"), exist_ok=True)
    cli = walk(os.path.join(bin_dir, "cohort"))
    for program, section, tree in (
            ("cohortd", 8, walk(os.path.join(bin_dir, "cohortd"))),
            ("cohort", 1, cli),
            ("cohort-sim", 1, walk(os.path.join(bin_dir, "cohort-sim")))):
        with open(os.path.join(out, "man", f"{program}.{section}"), "w") as f:
            f.write(man_page(program, section, tree, date, version))
    with open(os.path.join(out, "completion", "cohort.bash"), "w") as f:
        f.write(bash_completion(cli))
    with open(os.path.join(out, "completion", "_cohort"), "w") as f:
        f.write(zsh_completion(cli))


if __name__ == "__main__":
    main()
