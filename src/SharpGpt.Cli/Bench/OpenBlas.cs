using System.Runtime.InteropServices;

namespace SharpGpt.Cli.Bench;

/// <summary>
/// OpenBLAS's cblas_sgemm through P/Invoke, only as a yardstick for `sharpgpt bench --compare`. OpenBLAS reads
/// OPENBLAS_CORETYPE when it loads, so the caller sets SkylakeX first (this environment presets Haswell, which
/// halves OpenBLAS's speed on these CPUs and would make the comparison unfair to it).
/// </summary>
internal static unsafe partial class OpenBlas
{
    private const int RowMajor = 101, NoTranspose = 111, Transpose = 112;
    private static delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> s_sgemm;

    public static string? TryLoad(int threads)
    {
        // .NET's Environment.SetEnvironmentVariable only changes the managed copy on Linux; OpenBLAS calls getenv,
        // so set the C runtime's environment before the library loads.
        NativeSetEnvironment("OPENBLAS_CORETYPE", "SkylakeX");
        NativeSetEnvironment("OPENBLAS_NUM_THREADS", threads.ToString());
        foreach (string name in new[] { "libopenblas.so.0", "libopenblas.so", "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0" })
        {
            if (NativeLibrary.TryLoad(name, out nint library) && NativeLibrary.TryGetExport(library, "cblas_sgemm", out nint sgemm))
            {
                s_sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)sgemm;
                return name;
            }
        }
        return null;
    }

    private static void NativeSetEnvironment(string name, string value)
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            SetEnv(name, value, 1);
        }
        Environment.SetEnvironmentVariable(name, value);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    /// <summary>C (M×N) = A (M×K) · Bᵀ with B stored (N×K): the forward x·Wᵀ layout.</summary>
    public static void MultiplyTransposed(int m, int n, int k, float* a, float* b, float* c) =>
        s_sgemm(RowMajor, NoTranspose, Transpose, m, n, k, 1f, a, k, b, k, 0f, c, n);
}
