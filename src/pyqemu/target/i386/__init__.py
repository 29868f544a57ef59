"""x86 (i386/x86-64) guest CPU: CPUID feature names and the named ``-cpu`` models used with KVM."""
