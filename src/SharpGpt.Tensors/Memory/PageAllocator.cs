using System.Runtime.InteropServices;

namespace SharpGpt.Tensors.Memory;

/// <summary>
/// Allocates the engine's large blocks on transparent huge pages where Linux offers them. Weights, activations and
/// KV caches are streamed sequentially; on 4 KiB pages every page costs a TLB miss and stops the hardware
/// prefetcher at its boundary (it never crosses a page), and first-touch faults cost ~7 µs per page on this
/// machine. Blocks of at least 2 MiB are mapped with mmap, 2 MiB-aligned, rounded up to whole huge pages and marked
/// MADV_HUGEPAGE, so the kernel backs them with 2 MiB pages even when THP is in "madvise" mode (the default
/// here). Elsewhere they are ordinary 64-byte aligned blocks.
/// </summary>
internal static unsafe partial class PageAllocator
{
    /// <summary>Linux's transparent huge page size on x86-64 and arm64 (4 KiB base pages).</summary>
    public const nuint HugePageBytes = 2 << 20;

    /// <summary>madvise advice from linux/mman.h.</summary>
    private const int MadviseHugePage = 14;

    /// <summary>madvise advice: drop the pages now; private anonymous memory reads back as zeros afterwards.</summary>
    private const int MadviseDontNeed = 4;

    /// <summary>Set SHARPGPT_HUGE_PAGES=0 to compare against ordinary pages.</summary>
    private static readonly bool s_enabled = OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("SHARPGPT_HUGE_PAGES") != "0";

    /// <summary>mmap's protection and flags from linux/mman.h (x86-64 and arm64).</summary>
    private const int ProtectReadWrite = 0x1 | 0x2, MapPrivateAnonymous = 0x02 | 0x20;

    /// <summary>
    /// Allocates at least <paramref name="bytes"/> bytes aligned to <paramref name="alignment"/>. Large blocks on Linux
    /// come straight from mmap: zero-filled by the kernel (<paramref name="zeroed"/>) and backed by memory only where
    /// they are touched, so a range that is never written costs nothing (a quantized checkpoint never fills the fp32
    /// matrices of its parameter buffer). Other blocks are not zeroed.
    /// </summary>
    public static void* Allocate(nuint bytes, nuint alignment, out bool zeroed)
    {
        if (!IsMapped(bytes))
        {
            zeroed = false;
            return NativeMemory.AlignedAlloc(bytes, alignment);
        }
        // Map one huge page more than needed and unmap the ends, leaving a 2 MiB-aligned block.
        nuint rounded = Rounded(bytes), mapped = rounded + HugePageBytes;
        byte* raw = (byte*)Mmap(null, mapped, ProtectReadWrite, MapPrivateAnonymous, -1, 0);
        if (raw == (byte*)-1)
        {
            throw new OutOfMemoryException();
        }
        byte* aligned = (byte*)(((nuint)raw + HugePageBytes - 1) & ~(HugePageBytes - 1));
        nuint head = (nuint)(aligned - raw), tail = mapped - head - rounded;
        if (head > 0)
        {
            _ = Munmap(raw, head);
        }
        if (tail > 0)
        {
            _ = Munmap(aligned + rounded, tail);
        }
        // Advice only: when it fails (THP disabled, old kernel) the block is still valid on small pages.
        _ = Madvise(aligned, rounded, MadviseHugePage);
        zeroed = true;
        return aligned;
    }

    /// <summary>Frees a block from <see cref="Allocate"/>, given the size it was allocated with.</summary>
    public static void Free(void* pointer, nuint bytes)
    {
        if (IsMapped(bytes))
        {
            _ = Munmap(pointer, Rounded(bytes));
        }
        else
        {
            NativeMemory.AlignedFree(pointer);
        }
    }

    private static bool IsMapped(nuint bytes) => s_enabled && bytes >= HugePageBytes;

    private static nuint Rounded(nuint bytes) => (bytes + HugePageBytes - 1) & ~(HugePageBytes - 1);

    /// <summary>
    /// Gives the whole pages inside [address, address + bytes) back to the operating system (Linux; elsewhere a
    /// no-op); they read as zeros afterwards. Returns the bytes given back.
    /// </summary>
    public static long Release(void* address, nuint bytes)
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }
        nuint page = (nuint)Environment.SystemPageSize;
        nuint start = ((nuint)address + page - 1) & ~(page - 1);
        nuint end = ((nuint)address + bytes) & ~(page - 1);
        if (end <= start)
        {
            return 0;
        }
        return Madvise((void*)start, end - start, MadviseDontNeed) == 0 ? (long)(end - start) : 0;
    }

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
