/*
 * args_env: the initial process state built by the loader.
 *   argv: argc and every argument after argv[0] (run as: args_env alpha "beta gamma" "")
 *   envp: environ == envp, PYQEMU_GUEST_VAR is visible (the test sets it to "hello-env")
 *   auxv: walked by hand after envp's NULL and compared with getauxval():
 *         AT_PAGESZ, AT_PHDR/AT_PHENT/AT_PHNUM consistent with the ELF header in memory,
 *         AT_ENTRY == _start, AT_RANDOM -> 16 readable bytes, AT_EXECFN names argv[0],
 *         AT_HWCAP nonzero with the IMAFDC letters, AT_UID/AT_EUID/AT_GID/AT_EGID, AT_SECURE,
 *         AT_CLKTCK, and the initial stack layout (argv/envp/auxv/strings ordering).
 */
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;
extern char _start[];

static int failures;

static void check(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "yes" : "NO");
    if (!ok)
        failures++;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int main(int argc, char **argv, char **envp)
{
    printf("argc: %d\n", argc);
    check("argv[0] nonempty", argv[0] != NULL && argv[0][0] != '\0');
    for (int i = 1; i < argc; i++)
        printf("argv[%d]: \"%s\" (len %zu)\n", i, argv[i], strlen(argv[i]));
    check("argv[argc] == NULL", argv[argc] == NULL);
    check("envp follows argv", envp == argv + argc + 1);
    check("environ == envp", environ == envp);

    int nenv = 0;
    while (envp[nenv])
        nenv++;
    check("envp nonempty", nenv > 0);
    const char *v = getenv("PYQEMU_GUEST_VAR");
    printf("PYQEMU_GUEST_VAR: %s\n", v ? v : "(unset)");

    /* The auxiliary vector starts right after envp's terminating NULL. */
    Elf64_auxv_t *auxv = (Elf64_auxv_t *)(envp + nenv + 1);
    int nauxv = 0, mismatches = 0, saw_null = 0;
    for (Elf64_auxv_t *a = auxv; nauxv < 64; a++, nauxv++) {
        if (a->a_type == AT_NULL) {
            saw_null = 1;
            break;
        }
        if (a->a_type != AT_IGNORE && getauxval(a->a_type) != a->a_un.a_val)
            mismatches++;
    }
    check("auxv terminated by AT_NULL", saw_null);
    check("auxv has several entries", nauxv >= 10);
    check("auxv walk agrees with getauxval", mismatches == 0);

    unsigned long pagesz = getauxval(AT_PAGESZ);
    printf("AT_PAGESZ: %lu\n", pagesz);
    check("sysconf(_SC_PAGESIZE) == AT_PAGESZ", (unsigned long)sysconf(_SC_PAGESIZE) == pagesz);

    /* AT_PHDR points at the program headers inside the mapped image; with the usual layout the
       ELF header sits immediately before them. */
    const Elf64_Phdr *phdr = (const Elf64_Phdr *)getauxval(AT_PHDR);
    unsigned long phnum = getauxval(AT_PHNUM);
    check("AT_PHENT == sizeof(Elf64_Phdr)", getauxval(AT_PHENT) == sizeof(Elf64_Phdr));
    check("AT_PHNUM > 0", phnum > 0);
    const Elf64_Ehdr *ehdr = (const Elf64_Ehdr *)((const char *)phdr - sizeof(Elf64_Ehdr));
    check("ELF magic before AT_PHDR", memcmp(ehdr->e_ident, ELFMAG, SELFMAG) == 0);
    check("e_machine == EM_RISCV", ehdr->e_machine == EM_RISCV);
    check("e_phoff == sizeof(Elf64_Ehdr)", ehdr->e_phoff == sizeof(Elf64_Ehdr));
    check("e_phnum == AT_PHNUM", ehdr->e_phnum == phnum);

    /* Load bias: where the first PT_LOAD (containing the ELF header) was mapped. */
    unsigned long bias = 0;
    int nload = 0, have_bias = 0, entry_in_exec = 0, phdr_in_load = 0;
    for (unsigned long i = 0; i < phnum; i++) {
        if (phdr[i].p_type != PT_LOAD)
            continue;
        nload++;
        if (!have_bias) {
            bias = (unsigned long)ehdr - (phdr[i].p_vaddr - phdr[i].p_offset);
            have_bias = 1;
        }
    }
    for (unsigned long i = 0; i < phnum; i++) {
        if (phdr[i].p_type != PT_LOAD)
            continue;
        unsigned long lo = bias + phdr[i].p_vaddr, hi = lo + phdr[i].p_memsz;
        unsigned long entry = getauxval(AT_ENTRY);
        if ((phdr[i].p_flags & PF_X) && entry >= lo && entry < hi)
            entry_in_exec = 1;
        if ((unsigned long)phdr >= lo && (unsigned long)phdr < hi)
            phdr_in_load = 1;
    }
    check("at least one PT_LOAD", nload >= 1);
    check("AT_PHDR inside a PT_LOAD", phdr_in_load);
    check("AT_ENTRY inside an executable PT_LOAD", entry_in_exec);
    check("AT_ENTRY == _start", getauxval(AT_ENTRY) == (unsigned long)_start);
    check("AT_ENTRY == bias + e_entry", getauxval(AT_ENTRY) == bias + ehdr->e_entry);

    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    int nonzero = 0;
    if (rnd)
        for (int i = 0; i < 16; i++)
            nonzero |= rnd[i];
    check("AT_RANDOM 16 bytes readable and not all zero", rnd != NULL && nonzero);

    const char *execfn = (const char *)getauxval(AT_EXECFN);
    check("AT_EXECFN set", execfn != NULL && execfn[0] != '\0');
    check("AT_EXECFN basename == argv[0] basename",
          execfn != NULL && strcmp(base_name(execfn), base_name(argv[0])) == 0);
    check("AT_EXECFN above the argument strings", (uintptr_t)execfn > (uintptr_t)argv[0]);
    check("argument strings above auxv", (uintptr_t)argv[0] > (uintptr_t)auxv);
    check("sp (argv) 16-byte aligned", (((uintptr_t)argv - sizeof(long)) & 15) == 0);

    unsigned long hwcap = getauxval(AT_HWCAP);
    check("AT_HWCAP nonzero", hwcap != 0);
    printf("AT_HWCAP letters:");
    for (int i = 0; i < 26; i++)
        if (hwcap & (1ul << i))
            printf(" %c", 'A' + i);
    printf("\n");

    check("AT_UID == getuid()", getauxval(AT_UID) == getuid());
    check("AT_EUID == geteuid()", getauxval(AT_EUID) == geteuid());
    check("AT_GID == getgid()", getauxval(AT_GID) == getgid());
    check("AT_EGID == getegid()", getauxval(AT_EGID) == getegid());
    printf("AT_SECURE: %lu\n", getauxval(AT_SECURE));
    printf("AT_CLKTCK: %lu\n", getauxval(AT_CLKTCK));

    /* A string in .rodata and a writable global: both must be usable. */
    static int counter = 41;
    counter++;
    check("static data writable", counter == 42);

    printf("%s args_env\n", failures ? "FAIL" : "OK");
    return failures ? 1 : 0;
}
