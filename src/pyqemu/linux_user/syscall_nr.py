"""Syscall numbers of the asm-generic ABI used by riscv64 (include/uapi/asm-generic/unistd.h), with
the x86-64 host number and argument kinds for calls that pass straight through to the host kernel.

Argument kinds: ``i`` integer, ``p`` guest pointer (translated to a host pointer), ``s`` path (guest
pointer to a C string, looked up under the ``-L`` prefix), ``-`` unused.  Host number ``-`` means the
call is emulated in :mod:`pyqemu.linux_user.syscall`.
"""

from __future__ import annotations

TABLE = """
17  getcwd           -    pi
23  dup              32   i
24  dup3             292  iii
25  fcntl            -    iii
29  ioctl            -    iii
33  mknodat          259  isii
34  mkdirat          258  isi
35  unlinkat         263  isi
36  symlinkat        266  sis
37  linkat           265  isisi
38  renameat         264  isis
43  statfs           137  sp
44  fstatfs          138  ip
45  truncate         76   si
46  ftruncate        77   ii
47  fallocate        285  iiii
48  faccessat        269  isi
49  chdir            80   s
50  fchdir           81   i
52  fchmod           91   ii
53  fchmodat         268  isi
54  fchownat         260  isiii
55  fchown           93   iii
56  openat           -    isii
57  close            -    i
59  pipe2            293  pi
61  getdents64       217  ipi
62  lseek            8    iii
63  read             0    ipi
64  write            -    ipi
65  readv            -    ipi
66  writev           -    ipi
67  pread64          17   ipii
68  pwrite64         18   ipii
69  preadv           -    ipii
70  pwritev          -    ipii
71  sendfile         40   iipi
72  pselect6         -    ipppp
73  ppoll            -    ipppi
78  readlinkat       -    ispi
79  newfstatat       -    ispi
80  fstat            -    ip
81  sync             162  -
82  fsync            74   i
83  fdatasync        75   i
88  utimensat        280  ispi
93  exit             -    i
94  exit_group       -    i
95  waitid           247  iipip
96  set_tid_address  -    p
98  futex            -    piipii
99  set_robust_list  -    pi
101 nanosleep        35   pp
102 getitimer        36   ip
103 setitimer        38   ipp
113 clock_gettime    228  ip
114 clock_getres     229  ip
115 clock_nanosleep  230  iipp
118 sched_setparam   142  ip
119 sched_setscheduler 144 iip
120 sched_getscheduler 145 i
121 sched_getparam   143  ip
122 sched_setaffinity 203 iip
123 sched_getaffinity 204 iip
124 sched_yield      24   -
125 sched_get_priority_max 146 i
126 sched_get_priority_min 147 i
127 sched_rr_get_interval 148 ip
129 kill             -    ii
130 tkill            -    ii
131 tgkill           -    iii
132 sigaltstack      -    pp
133 rt_sigsuspend    -    pi
134 rt_sigaction     -    ippi
135 rt_sigprocmask   -    ippi
136 rt_sigpending    -    pi
137 rt_sigtimedwait  -    pppi
138 rt_sigqueueinfo  -    iip
139 rt_sigreturn     -    -
140 setpriority      141  iii
141 getpriority      140  ii
142 reboot           -    iiip
143 setregid         114  ii
144 setgid           106  i
145 setreuid         113  ii
146 setuid           105  i
147 setresuid        117  iii
148 getresuid        118  ppp
149 setresgid        119  iii
150 getresgid        120  ppp
153 times            100  p
154 setpgid          109  ii
155 getpgid          121  i
156 getsid           124  i
157 setsid           112  -
158 getgroups        115  ip
159 setgroups        116  ip
160 uname            -    p
161 sethostname      170  pi
163 getrlimit        97   ip
164 setrlimit        160  ip
165 getrusage        98   ip
166 umask            95   i
167 prctl            -    iiiii
168 getcpu           309  ppp
169 gettimeofday     96   pp
172 getpid           39   -
173 getppid          110  -
174 getuid           102  -
175 geteuid          107  -
176 getgid           104  -
177 getegid          108  -
178 gettid           186  -
179 sysinfo          99   p
198 socket           41   iii
199 socketpair       53   iiip
200 bind             49   ipi
201 listen           50   ii
202 accept           43   ipp
203 connect          42   ipi
204 getsockname      51   ipp
205 getpeername      52   ipp
206 sendto           44   ipiipi
207 recvfrom         45   ipiipp
208 setsockopt       54   iiipi
209 getsockopt       55   iiipp
210 shutdown         48   ii
211 sendmsg          -    ipi
212 recvmsg          -    ipi
214 brk              -    p
215 munmap           -    pi
216 mremap           -    piiip
220 clone            -    iippp
221 execve           -    spp
222 mmap             -    piiiii
223 fadvise64        221  iiii
226 mprotect         -    pii
227 msync            -    pii
228 mlock            -    pi
229 munlock          -    pi
232 mincore          -    pip
233 madvise          -    pii
242 accept4          288  ippi
258 riscv_hwprobe    -    piipi
259 riscv_flush_icache - ppi
260 wait4            61   ipip
261 prlimit64        302  iipp
276 renameat2        316  isisi
278 getrandom        318  pii
279 memfd_create     319  pi
291 statx            -    isiip
293 rseq             -    pii
435 clone3           -    pi
439 faccessat2       439  isii
"""


def _parse() -> tuple[dict[int, str], dict[str, tuple[int, str]], dict[str, str]]:
    names: dict[int, str] = {}
    host: dict[str, tuple[int, str]] = {}
    kinds: dict[str, str] = {}
    for line in TABLE.strip().splitlines():
        nr, name, hnr, args = line.split()
        names[int(nr)] = name
        kinds[name] = "" if args == "-" else args
        if hnr != "-":
            host[name] = (int(hnr), kinds[name])
    return names, host, kinds


NAMES, HOST_PASSTHROUGH, ARG_KINDS = _parse()
NUMBERS = {v: k for k, v in NAMES.items()}
