using System.Runtime.InteropServices;

namespace SharpGpt.Training.Distributed;

/// <summary>
/// P/Invoke into OpenMPI (libmpi.so.40, Debian's openmpi-bin / libopenmpi-dev). OpenMPI's handles
/// (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are the addresses of exported globals, looked up once.
/// </summary>
internal static unsafe partial class MpiNative
{
    public const string Library = "libmpi.so.40";

    /// <summary>OpenMPI's MPI_IN_PLACE.</summary>
    public static readonly void* InPlace = (void*)1;

    public const int ThreadFunneled = 1;
    public const int Success = 0;

    [LibraryImport(Library, EntryPoint = "MPI_Initialized")]
    public static partial int Initialized(out int flag);

    [LibraryImport(Library, EntryPoint = "MPI_Init_thread")]
    public static partial int InitThread(nint argc, nint argv, int required, out int provided);

    [LibraryImport(Library, EntryPoint = "MPI_Finalize")]
    public static partial int Finalize();

    [LibraryImport(Library, EntryPoint = "MPI_Comm_rank")]
    public static partial int CommRank(nint comm, out int rank);

    [LibraryImport(Library, EntryPoint = "MPI_Comm_size")]
    public static partial int CommSize(nint comm, out int size);

    [LibraryImport(Library, EntryPoint = "MPI_Allreduce")]
    public static partial int Allreduce(void* send, void* receive, int count, nint type, nint op, nint comm);

    [LibraryImport(Library, EntryPoint = "MPI_Reduce_scatter")]
    public static partial int ReduceScatter(void* send, void* receive, int* counts, nint type, nint op, nint comm);

    [LibraryImport(Library, EntryPoint = "MPI_Allgatherv")]
    public static partial int Allgatherv(void* send, int sendCount, nint sendType, void* receive, int* counts, int* displacements, nint receiveType, nint comm);

    [LibraryImport(Library, EntryPoint = "MPI_Bcast")]
    public static partial int Bcast(void* buffer, int count, nint type, int root, nint comm);

    [LibraryImport(Library, EntryPoint = "MPI_Barrier")]
    public static partial int Barrier(nint comm);

    [LibraryImport(Library, EntryPoint = "MPI_Abort")]
    public static partial int Abort(nint comm, int code);

    public static nint Global(string name)
    {
        nint library = NativeLibrary.Load(Library);
        return NativeLibrary.GetExport(library, name);
    }
}
