using System.Diagnostics;
using System.Security.Cryptography;
using SharpGpt.Model;
using SharpGpt.Model.Tokenization;

namespace SharpGpt.Training.Data;

/// <summary>Options of `sharpgpt prepare`.</summary>
public sealed record PrepareOptions
{
    public required IReadOnlyList<string> Inputs { get; init; }
    public required string Output { get; init; }

    /// <summary>Share of the packed token stream held out for validation, in blocks.</summary>
    public double ValidationFraction { get; init; } = 0.05;

    /// <summary>The stream is cut into blocks of this many tokens, each going wholly to train or validation.</summary>
    public int ValidationBlockTokens { get; init; } = 8192;

    public ulong Seed { get; init; } = 1234;

    /// <summary>JSONL field / Parquet column holding the text.</summary>
    public string TextField { get; init; } = "text";

    /// <summary>Tokens per shard file.</summary>
    public long ShardTokens { get; init; } = 64L * 1024 * 1024;
}

/// <summary>Progress of a preparation run.</summary>
public readonly record struct PrepareProgress(long BytesDone, long BytesTotal, long Tokens, long Documents, double Seconds, string CurrentFile);

/// <summary>
/// Tokenizes a corpus once: documents are encoded (in parallel), each followed by &lt;|endoftext|&gt; and
/// packed into one stream (GPT-3 §2.2), which is cut into blocks assigned to train or validation by a seeded
/// hash, and written as token shards with a manifest.
/// </summary>
public sealed class DataPreparer
{
    private const int DocumentsPerBatch = 64;
    private readonly Gpt2Tokenizer _tokenizer;

    public DataPreparer(Gpt2Tokenizer tokenizer) => _tokenizer = tokenizer;

    public DatasetManifest Prepare(PrepareOptions options, IProgress<PrepareProgress>? progress = null, Action<string>? warn = null)
    {
        if (options.ValidationFraction is < 0 or >= 1)
        {
            throw new SharpGptException("The validation fraction must be in [0, 1).");
        }
        if (options.ValidationBlockTokens < 1 || options.ShardTokens < 1)
        {
            throw new SharpGptException("Block and shard sizes must be positive.");
        }
        var reader = new CorpusReader(options.TextField);
        IReadOnlyList<string> files = reader.ResolveFiles(options.Inputs);
        foreach (string skipped in reader.Skipped)
        {
            warn?.Invoke($"skipped {skipped}: not a .txt, .md, .jsonl or .parquet file");
        }
        Directory.CreateDirectory(options.Output);
        long totalBytes = files.Sum(f => new FileInfo(f).Length);
        var writer = new SplitWriter(options, _tokenizer.VocabSize);
        var sources = new List<SourceInfo>();
        var timer = Stopwatch.StartNew();
        long bytesDone = 0, documents = 0;

        foreach (string file in files)
        {
            long fileDocuments = 0, fileTokens = 0;
            foreach (SourceDocument[] batch in reader.Read(file).Chunk(DocumentsPerBatch))
            {
                int[][] encoded = new int[batch.Length][];
                Parallel.For(0, batch.Length, i => encoded[i] = _tokenizer.Encode(batch[i].Text));
                foreach (int[] tokens in encoded)
                {
                    writer.Append(tokens);
                    writer.Append([_tokenizer.EndOfTextId]);
                    fileTokens += tokens.Length + 1;
                }
                fileDocuments += batch.Length;
                documents += batch.Length;
                progress?.Report(new PrepareProgress(bytesDone, totalBytes, writer.TotalTokens, documents, timer.Elapsed.TotalSeconds, file));
            }
            long length = new FileInfo(file).Length;
            bytesDone += length;
            sources.Add(new SourceInfo(file, fileDocuments, fileTokens, length));
            progress?.Report(new PrepareProgress(bytesDone, totalBytes, writer.TotalTokens, documents, timer.Elapsed.TotalSeconds, file));
        }
        (SplitInfo train, SplitInfo validation) = writer.Finish();
        var manifest = new DatasetManifest
        {
            VocabSize = _tokenizer.VocabSize,
            EndOfTextId = _tokenizer.EndOfTextId,
            BytesPerToken = TokenShard.BytesPerTokenFor(_tokenizer.VocabSize),
            ValidationFraction = options.ValidationFraction,
            ValidationBlockTokens = options.ValidationBlockTokens,
            Seed = options.Seed,
            CreatedUtc = DateTime.UtcNow.ToString("O"),
            Train = train,
            Validation = validation,
            Sources = sources,
        };
        manifest.Save(options.Output);
        return manifest;
    }

    /// <summary>Cuts the packed stream into blocks, routes each to a split, and writes shards as they fill.</summary>
    private sealed class SplitWriter(PrepareOptions options, int vocabSize)
    {
        private readonly List<int> _block = new(options.ValidationBlockTokens);
        private readonly List<int> _train = [], _validation = [];
        private readonly List<ShardInfo> _trainShards = [], _validationShards = [];
        private long _blockIndex;
        private bool _anyValidation;

        public long TotalTokens { get; private set; }

        public void Append(ReadOnlySpan<int> tokens)
        {
            foreach (int token in tokens)
            {
                _block.Add(token);
                if (_block.Count == options.ValidationBlockTokens)
                {
                    RouteBlock(last: false);
                }
            }
            TotalTokens += tokens.Length;
        }

        public (SplitInfo Train, SplitInfo Validation) Finish()
        {
            if (_block.Count > 0)
            {
                RouteBlock(last: true);
            }
            Flush(_train, _trainShards, "train");
            Flush(_validation, _validationShards, "val");
            if (_trainShards.Sum(s => s.Tokens) == 0)
            {
                throw new SharpGptException("The corpus produced no training tokens.");
            }
            return (new SplitInfo(_trainShards), new SplitInfo(_validationShards));
        }

        private void RouteBlock(bool last)
        {
            bool validation = IsValidationBlock(_blockIndex++);
            // A non-empty validation split whenever one was asked for and there is more than one block.
            if (last && !_anyValidation && options.ValidationFraction > 0 && _blockIndex > 1)
            {
                validation = true;
            }
            _anyValidation |= validation;
            List<int> target = validation ? _validation : _train;
            target.AddRange(_block);
            _block.Clear();
            if (target.Count >= options.ShardTokens)
            {
                Flush(target, validation ? _validationShards : _trainShards, validation ? "val" : "train");
            }
        }

        private bool IsValidationBlock(long index)
        {
            ulong z = options.Seed ^ (0x9E3779B97F4A7C15UL * (ulong)(index + 1));
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (z >> 11) * (1.0 / (1UL << 53)) < options.ValidationFraction;
        }

        private void Flush(List<int> tokens, List<ShardInfo> shards, string prefix)
        {
            if (tokens.Count == 0)
            {
                return;
            }
            string file = $"{prefix}-{shards.Count:D4}.bin";
            string path = Path.Combine(options.Output, file);
            TokenShard.Write(path, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens), vocabSize);
            string sha;
            using (FileStream stream = File.OpenRead(path))
            {
                sha = Convert.ToHexStringLower(SHA256.HashData(stream));
            }
            shards.Add(new ShardInfo(file, tokens.Count, sha));
            tokens.Clear();
        }
    }
}
