using SharpGpt.Model;

namespace SharpGpt.Training.Data;

/// <summary>A prepared dataset opened for training: the manifest and both splits as token streams.</summary>
public sealed class TokenDataset : IDisposable
{
    private TokenDataset(string directory, DatasetManifest manifest, TokenStream train, TokenStream validation)
    {
        Directory = directory;
        Manifest = manifest;
        Train = train;
        Validation = validation;
    }

    public string Directory { get; }

    public DatasetManifest Manifest { get; }

    public TokenStream Train { get; }

    public TokenStream Validation { get; }

    public static TokenDataset Open(string directory)
    {
        DatasetManifest manifest = DatasetManifest.Load(directory);
        TokenStream train = TokenStream.Open(directory, manifest.Train);
        try
        {
            return new TokenDataset(directory, manifest, train, TokenStream.Open(directory, manifest.Validation));
        }
        catch
        {
            train.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
    }
}

/// <summary>The shards of one split read as a single sequence of tokens.</summary>
public sealed class TokenStream : IDisposable
{
    private readonly TokenShard[] _shards;
    private readonly long[] _starts;

    private TokenStream(TokenShard[] shards)
    {
        _shards = shards;
        _starts = new long[shards.Length + 1];
        for (int i = 0; i < shards.Length; i++)
        {
            _starts[i + 1] = _starts[i] + shards[i].Count;
        }
    }

    public long Count => _starts[^1];

    public static TokenStream Open(string directory, SplitInfo split)
    {
        var shards = new List<TokenShard>();
        try
        {
            foreach (ShardInfo info in split.Shards)
            {
                if (info.File != Path.GetFileName(info.File))
                {
                    throw new SharpGptException($"{directory}: shard name '{info.File}' must be a plain file name.");
                }
                TokenShard shard = TokenShard.Open(Path.Combine(directory, info.File));
                shards.Add(shard);
                if (shard.Count != info.Tokens)
                {
                    throw new SharpGptException($"{shard.Path}: has {shard.Count} tokens but the manifest says {info.Tokens}.");
                }
            }
        }
        catch
        {
            shards.ForEach(s => s.Dispose());
            throw;
        }
        return new TokenStream([.. shards]);
    }

    /// <summary>Copies tokens [start, start + destination.Length), crossing shard boundaries as needed.</summary>
    public void Read(long start, Span<int> destination)
    {
        if (start < 0 || start + destination.Length > Count)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"Tokens [{start}, {start + destination.Length}) are outside the split's {Count}.");
        }
        while (!destination.IsEmpty)
        {
            int shard = Array.BinarySearch(_starts, start);
            shard = shard >= 0 ? shard : ~shard - 1;
            while (_shards[shard].Count == 0 || start >= _starts[shard + 1])
            {
                shard++;
            }
            long offset = start - _starts[shard];
            int take = (int)Math.Min(destination.Length, _shards[shard].Count - offset);
            _shards[shard].Read(offset, destination[..take]);
            destination = destination[take..];
            start += take;
        }
    }

    public void Dispose()
    {
        foreach (TokenShard shard in _shards)
        {
            shard.Dispose();
        }
    }
}
