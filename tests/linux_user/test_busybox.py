'''Debian's riscv64 and arm64 busyboxes under ``pyqemu-riscv64`` and ``pyqemu-aarch64`` against Debian's
amd64 busybox run natively.

Both are busybox 1.35 built with Debian's "static" configuration, so a shell script must print the
same stdout and end with the same exit status under both: the native run is the expected result.
Each script runs in a fresh empty directory (one per busybox) with the same small environment
(``PATH`` leads nowhere: busybox runs its own applets), so files, names and sizes are comparable.
Stderr is not compared (messages name the busybox binary), but it is shown when a run differs.

The scripts only print what does not depend on the run: file times are set with ``touch -d``,
``date`` gets fixed input, and directory listings are sorted.
'''

from __future__ import annotations

import difflib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TIMEOUT = 300

SCRIPTS: dict[str, str] = {}

SCRIPTS["sh_control_flow"] = r"""
for i in 1 2 3; do echo "for $i"; done
n=0
while [ $n -lt 3 ]; do n=$((n + 1)); echo "while $n"; done
until [ $n -eq 0 ]; do n=$((n - 1)); done; echo "until $n"
for word in apple banana cherry kiwi; do
    case $word in
        a*) echo "$word starts with a" ;;
        *an*) echo "$word has an" ;;
        cherry|kiwi) echo "$word is listed" ;;
    esac
done
for i in 1 2 3 4 5 6; do
    [ $i -eq 2 ] && continue
    [ $i -eq 5 ] && break
    echo "loop $i"
done
if true && ! false; then echo "if ok"; else echo "if wrong"; fi
i=0; while :; do i=$((i+1)); if [ $i -ge 4 ]; then break; fi; done; echo "broke at $i"
"""

SCRIPTS["sh_functions_and_variables"] = r"""
greet() { local who=${1:-nobody}; echo "hello $who ($# args)"; return 3; }
greet world a b; echo "status $?"
greet
count() { echo $#; }
set -- "one two" three "" four
echo "args: $#"; count "$@"; count $*; count "$*"
for a in "$@"; do echo "[$a]"; done
shift 2; echo "after shift: $# [$1]"
path=/usr/local/lib/libfoo.so.1
echo "${path##*/} ${path%/*} ${path#/usr/} ${path%%.*} ${#path}"
unset nothing; echo "${nothing:-default} ${nothing-unset} [${nothing:+alt}]"
x=abc; echo "${x:+alt} ${x:1:1} ${x/b/B}"
readonly R=1; (R=2) 2>/dev/null || echo "readonly kept"
outer() { inner() { echo "inner sees $v"; }; local v=outer; inner; }; outer
f() { echo "recursion $1"; [ "$1" -gt 0 ] && f $(($1 - 1)); }; f 3
IFS=: read -r a b c <<EOF
x:y:z:w
EOF
echo "$a|$b|$c"
"""

SCRIPTS["sh_substitution_arith_heredoc"] = r"""
x=$(echo hello | tr a-z A-Z); echo "$x"
echo "nested $(echo "inner $(echo deepest)")"
echo `echo backticks`
echo $(( 3 * 7 + 2 ** 10 )) $(( -17 / 5 )) $(( -17 % 5 )) $(( 1 << 40 )) $(( 0x1f | 0100 ))
echo $(( (5 > 3) && (2 > 9) )) $(( 7 == 7 ? 10 : 20 )) $(( ~0 )) $(( 9223372036854775807 + 1 ))
i=5; : $(( i += 10 )); echo "i=$i"; echo $(( i++ )) $i $(( --i ))
name=World
cat <<EOF
Hello, $name! $((6 * 7))
  indented \$literal $(echo substituted)
EOF
cat <<'EOF'
quoted: $name $(not run)
EOF
cat <<-EOF
	tabs stripped $name
	EOF
lines=$(printf 'a\nb\nc\n'); echo "$lines" | wc -l
"""

SCRIPTS["sh_status_errors_traps"] = r"""
false; echo "false: $?"
true; echo "true: $?"
( exit 5 ); echo "subshell: $?"
! false; echo "negated: $?"
sh -c 'exit 9'; echo "child sh: $?"
nonexistent_command_xyz 2>/dev/null; echo "not found: $?"
echo a | false | true; echo "pipeline: $?"
set -o pipefail; echo a | false | true; echo "pipefail: $?"; set +o pipefail
(set -e; echo "before"; false; echo "not reached"); echo "set -e subshell: $?"
(set -e; false || echo "or-list keeps going"; if false; then :; fi; echo "after if")
out=$(exit 4); echo "command substitution: $?"
trap 'echo "got USR1"' USR1
kill -USR1 $$
echo "after signal"
trap - USR1
(trap 'echo "subshell exit trap"' EXIT; echo "in subshell")
trap 'echo "exit trap, status $?"' EXIT
sh -c 'kill -TERM $$'; echo "killed child: $?"
exit 7
"""

SCRIPTS["sed_awk"] = r"""
printf 'alpha 3 x\nbeta 10 y\ngamma 7 z\ndelta 10 w\n' > data
sed 's/a/A/g' data
sed -n '2,3p' data
sed -e '/gamma/d' -e 's/^\([a-z]*\) \([0-9]*\)/\2=\1/' data
sed 'y/abc/XYZ/;1i\
header' data
sed -n '$=' data
printf 'one\ntwo\n' | sed -e '$a\' -e 'end' -e 's/o/0/2'
sed -i 's/x$/EX/' data; cat data
awk '{ sum += $2; n++ } END { printf "sum=%d avg=%.3f n=%d\n", sum, sum / n, n }' data
awk -F' ' '$2 >= 7 { print NR ": " toupper($1), length($1) }' data
awk 'BEGIN { OFS="-" } { count[$2]++ } END { for (k in count) print k, count[k] }' data | sort -n
awk 'BEGIN { for (i = 1; i <= 5; i++) printf "%d^2=%d%s", i, i*i, (i < 5 ? " " : "\n") }'
awk 'BEGIN { x = sprintf("%5.2f|%-6s|%x|%o|%e", 3.14159, "ab", 255, 8, 12345.678); print x }'
awk 'BEGIN { s = "hello world"; n = split(s, parts, " ")
             print n, parts[2], substr(s, 2, 3), index(s, "wor") }'
awk 'BEGIN { s = "aaa"; gsub(/a/, "b", s); print s; print int(-3.7), 7 % 3, 1 / 4, 2 * 0.1 }'
echo "a:b:c" | awk -F: '{ $2 = "B"; print; print NF }' OFS=:
"""

SCRIPTS["sort_uniq"] = r"""
printf '10 banana\n2 apple\n33 cherry\n2 apple\n5 date\n10 banana\n1 elder\n' > f
sort f
sort -n f
sort -rn f
sort -u f
sort -k2 f
sort -k1,1n -k2r f
sort -t' ' -k2,2 -u f
sort -n f | uniq
sort f | uniq -c
sort f | uniq -d
sort f | uniq -u
printf 'b\nA\na\nB\n' | sort
printf 'b\nA\na\nB\n' | sort -f
printf '3\n1\n2\n' | sort -c 2>/dev/null; echo "sorted check: $?"
printf 'x 1.5\ny -2\nz 1e1\n' | sort -k2 -g
"""

SCRIPTS["grep"] = r"""
printf 'Apple pie\nbanana split\ncherry tart\nAPPLE juice\napple\n' > food
grep apple food
grep -i apple food
grep -c -i apple food
grep -v -i apple food
grep -n tart food
grep -E '^(banana|cherry)' food
grep -o 'a[a-z]*' food | head -5
grep -w apple food
grep -l apple food
grep -x apple food
grep -e pie -e tart food
grep notthere food; echo "no match: $?"
grep apple missing-file 2>/dev/null; echo "missing file: $?"
grep -q banana food && echo "quiet match"
printf 'a1\nb22\nc333\n' | grep -E '[0-9]{2,}'
printf 'x.y\nxzy\n' | grep -F 'x.y'
"""

SCRIPTS["cut_tr_head_tail_wc"] = r"""
printf 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:User Name:/home/user:/bin/bash\n' > pw
cut -d: -f1,3 pw
cut -d: -f5- pw
cut -c1-4 pw
echo "Hello World" | tr 'a-z' 'A-Z'
echo "Hello World" | tr -d 'lo'
echo "aaabbbccc   d" | tr -s 'a-c '
echo "hello" | tr -c 'l' '.'
seq 1 20 > nums
head -n 3 nums
head -c 5 nums | od -c | head -1
tail -n 2 nums
tail -n +18 nums
tail -c 6 nums
wc -l nums
wc -w pw
wc -c < pw
wc pw nums
"""

SCRIPTS["files_and_dirs"] = r"""
mkdir -p a/b/c
echo one > a/one.txt
echo two > a/b/two.txt
cp a/one.txt a/b/c/copy.txt
cp -r a a2
mv a2/one.txt a2/moved.txt
ln -s ../one.txt a/b/link
ln a/one.txt hard
rm a2/b/two.txt
rmdir a2/b/c 2>/dev/null || echo "rmdir refused a non-empty directory"
cat a/b/link
readlink a/b/link
[ -L a/b/link ] && echo "is a link"
[ -f hard ] && [ -s hard ] && echo "hard is a non-empty file"
[ -d a/b ] && [ ! -e a/nope ] && echo "dir exists, nope does not"
test a/one.txt -ef hard && echo "same file"
test 10 -gt 9 -a "abc" != "abd" && echo "test ok"
[ -z "" ] && [ -n "x" ] && [ "a" \< "b" ] && echo "strings ok"
ls a a/b a2 | cat
ls -a a2
ls -R a
rm -r a2
ls
basename /usr/lib/libc.so.6; basename /usr/lib/libc.so.6 .6; basename dir/
dirname /usr/lib/libc.so.6; dirname file; dirname /
printf 'x\ny\n\nz\n' > lines; cat -n lines; cat -b lines 2>/dev/null || true
cat a/one.txt - a/b/two.txt <<EOF
from stdin
EOF
stat -c '%n %s %F' a/one.txt a/b a/b/link
"""

SCRIPTS["ls_long"] = r"""
mkdir -p tree/sub
printf 'hello\n' > tree/file
printf '%1000s' x > tree/sub/big
ln -s file tree/link
chmod 640 tree/file
chmod 755 tree/sub
touch -h -d '2001-02-03 04:05:06' tree/file tree/sub/big tree/sub tree/link tree
ls -l tree | awk '{ print $1, $5, $6, $7, $8, $9, $10, $11 }'
ls -ln tree/sub | awk 'NR > 1 { print $1, $2, $5, $6, $7, $8, $9 }'
ls -l --full-time tree/file | awk '{ print $1, $5, $6, $7, $9 }'
ls -ld tree | awk '{ print $1, $6, $7, $8, $9 }'
ls -s tree/sub
date -u -r tree/file '+%F %T'
"""

SCRIPTS["find_xargs"] = r"""
mkdir -p src/lib src/bin docs
for f in src/main.c src/lib/util.c src/lib/util.h src/bin/tool docs/readme.txt docs/guide.txt; do
    echo "content of $f" > "$f"
done
touch -d '2020-01-01 00:00' src/main.c src/lib/util.c src/lib/util.h src/bin/tool
touch -d '2021-01-01 00:00' docs/readme.txt docs/guide.txt
find . -name '*.c' | sort
find . -type d | sort
find src -type f -name 'util*' | sort
find . -name '*.txt' -exec wc -c {} \; | sort
find . -type f -newer src/main.c -o -name main.c | sort
find docs -type f | sort | xargs cat
find . -name '*.h' -print0 | xargs -0 -n 1 echo found
echo 1 2 3 4 5 | xargs -n 2 echo pair
printf 'a\nb\nc\n' | xargs echo all
find . -type f | wc -l
find . -maxdepth 1 | sort
find . -empty
"""

SCRIPTS["tar_gzip"] = r"""
mkdir -p pkg/sub
seq 1 120 > pkg/numbers
printf 'small file\n' > pkg/sub/small
touch -d '2020-01-02 03:04:05' pkg/numbers pkg/sub/small pkg/sub pkg
tar cf pkg.tar pkg
tar tf pkg.tar
tar tvf pkg.tar | awk '{ print $1, $3, $4, $5, $6 }'
mkdir out && tar xf pkg.tar -C out && cmp pkg/numbers out/pkg/numbers && echo "tar round trip ok"
tar cf - pkg | gzip > pkg.tgz && gunzip -c pkg.tgz | tar tf - | sort
gzip -c pkg/numbers > numbers.gz
md5sum numbers.gz
gzip -t numbers.gz && echo "gzip -t ok"
gunzip -c numbers.gz | md5sum
zcat numbers.gz | tail -1
gzip -9 pkg/numbers && ls pkg
gunzip pkg/numbers.gz && wc -l pkg/numbers
printf 'repeat %.0s' 1 2 3 4 5 6 7 8 9 10 | gzip | wc -c
printf 'not gzip data' | gunzip 2>/dev/null; echo "bad gzip: $?"
"""

SCRIPTS["checksums_and_bytes"] = r"""
printf 'The quick brown fox jumps over the lazy dog' > fox
md5sum fox
sha1sum fox
sha256sum fox
sha512sum fox | cut -c1-32
sha256sum fox > fox.sum && sha256sum -c fox.sum
printf '' | md5sum
od -c fox | head -2
od -A x -t x1 fox | head -2
od -t d2 -N 8 fox
hexdump -C fox
printf '\001\002\377\000abc' | od -An -t u1
dd if=fox bs=4 skip=1 count=3 2>/dev/null; echo
dd if=/dev/zero bs=512 count=3 2>/dev/null | wc -c
dd if=fox of=part bs=1 skip=4 count=5 2>/dev/null; cat part; echo
seq 1 300 | md5sum
cmp fox part; echo "cmp: $?"
"""

SCRIPTS["printf_seq_expr_date"] = r"""
printf '%s-%s\n' a b c
printf '%05d|%-5d|%+d|%x|%X|%o|%c|%%\n' 42 42 42 255 255 8 A
printf '%.3f %10.2f %e %g %g\n' 3.14159265 2.5 12345.678 0.0001 1e20
printf '%s\t%b\n' 'tab' 'esc\141pe\n'
printf '%d\n' 0x10 010 "'A"
seq 3; seq 2 4; seq 10 -3 1; seq -w 8 11; seq -s , 1 5; seq 1 0.5 3
expr 7 + 5 \* 3; expr 17 / 5; expr 17 % 5; expr length hello
expr substr hello 2 3; expr index hello l; expr hello : 'hel\(.*\)'; expr 3 \< 10
expr 0 + 0; echo "expr zero status: $?"
date -u -d @0
date -u -d @1234567890 '+%Y-%m-%d %H:%M:%S %a %b %j %s'
date -u -d '2000-02-29 12:34:56' '+%s %A'
date -u -d @86399 +%T
echo "$(( $(date -u -d '2024-03-01' +%s) - $(date -u -d '2024-02-28' +%s) ))"
"""

SCRIPTS["compute"] = r"""
sum=0; i=0
while [ $i -lt 200 ]; do sum=$((sum + i * i)); i=$((i + 1)); done
echo "sum of squares $sum"
fib() { a=0; b=1; n=$1; while [ $n -gt 0 ]; do t=$((a + b)); a=$b; b=$t; n=$((n - 1)); done; echo $a; }
fib 90
awk 'BEGIN { n = 0
             for (i = 2; n < 30; i++) {
                 p = 1; for (j = 2; j * j <= i; j++) if (i % j == 0) { p = 0; break }
                 if (p) { n++; last = i }
             }
             print "30th prime", last }'
seq 1 300 | awk '{ s += $1 * $1 } END { print s }'
seq 1 200 | sort -rn | head -3
awk 'BEGIN { x = 1; for (i = 1; i <= 20; i++) x = x * 1.5 + 1 / i; printf "%.10f %.6e %d\n", x, x * 1e10, x }'
"""


def _strip(script: str) -> str:
    return textwrap.dedent(script).lstrip("\n")


def _env(home: Path) -> dict[str, str]:
    return {"PATH": "/nonexistent/bin", "LC_ALL": "C", "TZ": "UTC", "HOME": str(home)}


def run_busybox(cmd: list[str], workdir: Path, args: list[str], input: str | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    workdir.mkdir()
    return subprocess.run([*cmd, *args], cwd=workdir, env={**_env(workdir), **(env or {})}, input=input,
                          stdin=None if input is not None else subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", timeout=TIMEOUT)


def compare(native: subprocess.CompletedProcess[str], guest: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in guest.stderr, guest.stderr
    if guest.stdout != native.stdout:
        diff = "".join(difflib.unified_diff(native.stdout.splitlines(keepends=True),
                                            guest.stdout.splitlines(keepends=True),
                                            fromfile="native amd64 busybox",
                                            tofile="guest busybox (pyqemu)"))
        pytest.fail(f"stdout differs (exit status {native.returncode} native, {guest.returncode} pyqemu)\n"
                    f"{diff}\nnative stderr:\n{native.stderr[-2000:]}\n"
                    f"pyqemu stderr:\n{guest.stderr[-3000:]}", pytrace=False)
    assert guest.returncode == native.returncode, (
        f"exit status {guest.returncode} under pyqemu, {native.returncode} natively\n"
        f"pyqemu stderr:\n{guest.stderr[-3000:]}")


#: the guest busybox of each target: (pyqemu-TARGET, name in pyqemu-guests)
TARGETS = {"riscv64": "riscv64/busybox", "aarch64": "arm64/busybox"}


@pytest.fixture(params=sorted(TARGETS))
def busyboxes(request: pytest.FixtureRequest, guest_file, amd64_busybox: Path) -> tuple[list, list]:
    """(native command, guest command): each is followed by an applet and its arguments."""
    target = request.param
    launcher = f"import sys; from pyqemu.linux_user.main import main; sys.exit(main(arch_name={target!r}))"
    guest = guest_file(TARGETS[target])
    return [str(amd64_busybox)], [sys.executable, "-c", launcher, "-U", "PYTHONPATH", str(guest)]


def _pyqemu_env() -> dict[str, str]:
    # pyqemu itself may need PYTHONPATH (the guest does not see it: -U PYTHONPATH)
    src = str(Path(__file__).resolve().parents[2] / "src")
    return {"PYTHONPATH": src}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_script(name: str, busyboxes, tmp_path: Path) -> None:
    native_cmd, guest_cmd = busyboxes
    script = _strip(SCRIPTS[name])
    native = run_busybox(native_cmd, tmp_path / "native", ["sh", "-c", script])
    assert native.returncode in (0, 7), f"the reference run failed:\n{native.stderr}"
    guest = run_busybox(guest_cmd, tmp_path / "pyqemu", ["sh", "-c", script], env=_pyqemu_env())
    compare(native, guest)


def test_script_on_stdin(busyboxes, tmp_path: Path) -> None:
    """``busybox sh -s arg...``: commands come from stdin, as when typed at a prompt."""
    native_cmd, guest_cmd = busyboxes
    script = _strip(r"""
        echo "args: $# $1 $2"
        x=0
        while [ $x -lt 3 ]; do
            x=$((x + 1)); echo "line $x"
        done
        cat > notes <<EOF
        written $x
        EOF
        cat notes
        exit 3
        echo "not reached"
        """)
    native = run_busybox(native_cmd, tmp_path / "native", ["sh", "-s", "first", "second"], input=script)
    assert native.stdout.startswith("args: 2 first second\n")
    guest = run_busybox(guest_cmd, tmp_path / "pyqemu", ["sh", "-s", "first", "second"], input=script,
                        env=_pyqemu_env())
    compare(native, guest)
    assert guest.returncode == 3


def test_applet_directly(busyboxes, tmp_path: Path) -> None:
    """An applet as the program's first argument, with its stdin and arguments."""
    native_cmd, guest_cmd = busyboxes
    text = "".join(f"{n} line\n" for n in (5, 3, 11, 3, 1))
    native = run_busybox(native_cmd, tmp_path / "native", ["sort", "-n", "-u"], input=text)
    guest = run_busybox(guest_cmd, tmp_path / "pyqemu", ["sort", "-n", "-u"], input=text, env=_pyqemu_env())
    compare(native, guest)
    assert guest.stdout.startswith("1 line\n3 line\n")


if __name__ == "__main__":  # print one script, e.g. to try it by hand
    print(_strip(SCRIPTS[sys.argv[1]]))
