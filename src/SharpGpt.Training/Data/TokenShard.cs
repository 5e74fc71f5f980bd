using System.IO.MemoryMappedFiles;
using SharpGpt.Model;
using SharpGpt.Model.Checkpoints;

namespace SharpGpt.Training.Data;

/// <summary>
/// A binary file of token ids: a 32-byte header ("SGPTTOK1", bytes per token, token count) then the ids,
/// uint16 when the vocabulary fits in 65,536, else uint32. Read through a memory mapping, so a corpus
/// larger than RAM trains without being loaded.
/// </summary>
public sealed unsafe class TokenShard : IDisposable
{
    public const int HeaderBytes = 32;
    private static readonly byte[] Magic = "SGPTTOK1"u8.ToArray();

    private readonly MemoryMappedFile _mapping;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _data;

    private TokenShard(string path, MemoryMappedFile mapping, MemoryMappedViewAccessor view, byte* data, int bytesPerToken, long count)
    {
        Path = path;
        _mapping = mapping;
        _view = view;
        _data = data;
        BytesPerToken = bytesPerToken;
        Count = count;
    }

    public string Path { get; }

    public int BytesPerToken { get; }

    public long Count { get; }

    public int this[long index] => BytesPerToken == 2 ? ((ushort*)_data)[index] : (int)((uint*)_data)[index];

    /// <summary>Copies tokens [start, start + destination.Length) into destination.</summary>
    public void Read(long start, Span<int> destination)
    {
        if (start < 0 || start + destination.Length > Count)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"Tokens [{start}, {start + destination.Length}) are outside {Path} ({Count} tokens).");
        }
        if (BytesPerToken == 2)
        {
            ushort* source = (ushort*)_data + start;
            for (int i = 0; i < destination.Length; i++)
            {
                destination[i] = source[i];
            }
        }
        else
        {
            new ReadOnlySpan<int>((int*)_data + start, destination.Length).CopyTo(destination);
        }
    }

    public static int BytesPerTokenFor(int vocabSize) => vocabSize <= 65536 ? 2 : 4;

    /// <summary>Writes a shard atomically.</summary>
    public static void Write(string path, ReadOnlySpan<int> tokens, int vocabSize)
    {
        int bytesPerToken = BytesPerTokenFor(vocabSize);
        byte[] buffer = new byte[HeaderBytes + (long)tokens.Length * bytesPerToken];
        Magic.CopyTo(buffer, 0);
        BitConverter.TryWriteBytes(buffer.AsSpan(8), bytesPerToken);
        BitConverter.TryWriteBytes(buffer.AsSpan(16), (long)tokens.Length);
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)vocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token {tokens[i]} is outside the vocabulary of {vocabSize}.");
            }
            if (bytesPerToken == 2)
            {
                BitConverter.TryWriteBytes(buffer.AsSpan(HeaderBytes + i * 2), (ushort)tokens[i]);
            }
            else
            {
                BitConverter.TryWriteBytes(buffer.AsSpan(HeaderBytes + i * 4), tokens[i]);
            }
        }
        AtomicFile.Write(path, stream => stream.Write(buffer));
    }

    public static TokenShard Open(string path)
    {
        FileInfo info = new(path);
        if (!info.Exists)
        {
            throw new SharpGptException($"{path}: token shard not found.");
        }
        if (info.Length < HeaderBytes)
        {
            throw new SharpGptException($"{path}: too short to be a token shard.");
        }
        var mapping = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = mapping.CreateViewAccessor(0, info.Length, MemoryMappedFileAccess.Read);
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        pointer += view.PointerOffset;
        try
        {
            if (!new ReadOnlySpan<byte>(pointer, 8).SequenceEqual(Magic))
            {
                throw new SharpGptException($"{path}: not a SharpGPT token shard (bad magic).");
            }
            int bytesPerToken = *(int*)(pointer + 8);
            long count = *(long*)(pointer + 16);
            if (bytesPerToken is not (2 or 4) || count < 0 || HeaderBytes + count * bytesPerToken != info.Length)
            {
                throw new SharpGptException($"{path}: header says {count} tokens of {bytesPerToken} bytes but the file has {info.Length} bytes (truncated?).");
            }
            return new TokenShard(path, mapping, view, pointer + HeaderBytes, bytesPerToken, count);
        }
        catch
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
            mapping.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mapping.Dispose();
    }
}
