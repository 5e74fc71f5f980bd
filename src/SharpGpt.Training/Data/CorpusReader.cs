using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;
using SharpGpt.Model;

namespace SharpGpt.Training.Data;

/// <summary>
/// Reads documents from plain-text files (one document per file), JSONL (one document per line, in a text
/// field) and Parquet files (one document per row, in a text column), or folders of them. Nothing is dropped
/// silently: an unreadable file, invalid UTF-8, a malformed line or a missing field stops with a message
/// naming the file and line, and files of unknown type in a folder are reported.
/// </summary>
public sealed class CorpusReader
{
    private static readonly string[] TextExtensions = [".txt", ".text", ".md"];
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public CorpusReader(string textField = "text") => TextField = textField;

    /// <summary>Field of JSONL objects and column of Parquet files that holds the text.</summary>
    public string TextField { get; }

    /// <summary>Files a folder contained that are not text, JSONL or Parquet (reported, not read).</summary>
    public List<string> Skipped { get; } = [];

    /// <summary>Expands files and folders into the list of files to read, in a stable order.</summary>
    public IReadOnlyList<string> ResolveFiles(IEnumerable<string> inputs)
    {
        var files = new List<string>();
        foreach (string input in inputs)
        {
            if (File.Exists(input))
            {
                files.Add(Path.GetFullPath(input));
            }
            else if (Directory.Exists(input))
            {
                foreach (string file in Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    if (KindOf(file) == FileKind.Unknown)
                    {
                        Skipped.Add(file);
                    }
                    else
                    {
                        files.Add(Path.GetFullPath(file));
                    }
                }
            }
            else
            {
                throw new SharpGptException($"Input '{input}' does not exist.");
            }
        }
        if (files.Count == 0)
        {
            throw new SharpGptException("No input files (text, .jsonl or .parquet) were found.");
        }
        return files;
    }

    /// <summary>The documents of one file.</summary>
    public IEnumerable<SourceDocument> Read(string file) => KindOf(file) switch
    {
        FileKind.Jsonl => ReadJsonl(file),
        FileKind.Parquet => ReadParquet(file),
        _ => ReadText(file),
    };

    private enum FileKind { Text, Jsonl, Parquet, Unknown }

    private static FileKind KindOf(string file)
    {
        string extension = Path.GetExtension(file).ToLowerInvariant();
        return extension switch
        {
            ".jsonl" => FileKind.Jsonl,
            ".parquet" => FileKind.Parquet,
            _ when TextExtensions.Contains(extension) => FileKind.Text,
            _ => FileKind.Unknown,
        };
    }

    private static IEnumerable<SourceDocument> ReadText(string file)
    {
        byte[] bytes = ReadBytes(file);
        yield return new SourceDocument(Decode(bytes, file, 1), file, 1);
    }

    private IEnumerable<SourceDocument> ReadJsonl(string file)
    {
        byte[] bytes = ReadBytes(file);
        int start = 0;
        long line = 0;
        while (start < bytes.Length)
        {
            int end = Array.IndexOf(bytes, (byte)'\n', start);
            if (end < 0)
            {
                end = bytes.Length;
            }
            line++;
            ReadOnlySpan<byte> content = bytes.AsSpan(start, end - start).TrimEnd((byte)'\r');
            start = end + 1;
            if (content.Trim(" \t"u8).IsEmpty)
            {
                continue;
            }
            string text = Decode(content.ToArray(), file, line);
            yield return new SourceDocument(FieldOf(text, file, line), file, line);
        }
    }

    private string FieldOf(string json, string file, long line)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new SharpGptException($"{file}:{line}: expected a JSON object.");
            }
            if (!document.RootElement.TryGetProperty(TextField, out JsonElement field))
            {
                throw new SharpGptException($"{file}:{line}: missing the \"{TextField}\" field.");
            }
            if (field.ValueKind != JsonValueKind.String)
            {
                throw new SharpGptException($"{file}:{line}: the \"{TextField}\" field is {field.ValueKind}, not a string.");
            }
            return field.GetString()!;
        }
        catch (JsonException ex)
        {
            throw new SharpGptException($"{file}:{line}: invalid JSON ({ex.Message}).", ex);
        }
    }

    private IEnumerable<SourceDocument> ReadParquet(string file)
    {
        List<(string?[] Values, long FirstRow)> groups = [];
        try
        {
            using Stream stream = File.OpenRead(file);
            ParquetReader reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult();
            try
            {
                DataField? column = reader.Schema.GetDataFields().FirstOrDefault(f => f.Name == TextField);
                if (column == null)
                {
                    throw new SharpGptException($"{file}: no column \"{TextField}\" (columns: {string.Join(", ", reader.Schema.GetDataFields().Select(f => f.Name))}).");
                }
                if (column.ClrType != typeof(string) && column.ClrType != typeof(ReadOnlyMemory<char>))
                {
                    throw new SharpGptException($"{file}: column \"{TextField}\" holds {column.ClrType.Name}, not strings.");
                }
                long row = 0;
                for (int g = 0; g < reader.RowGroupCount; g++)
                {
                    using ParquetRowGroupReader group = reader.OpenRowGroupReader(g);
                    string?[] values = new string?[group.RowCount];
                    group.ReadAsync(column, values.AsMemory()!, null).GetAwaiter().GetResult();
                    groups.Add((values, row));
                    row += values.Length;
                }
            }
            finally
            {
                reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        catch (Exception ex) when (ex is not SharpGptException)
        {
            throw new SharpGptException($"{file}: cannot read as Parquet ({ex.Message}).", ex);
        }
        foreach ((string?[] values, long firstRow) in groups)
        {
            for (int i = 0; i < values.Length; i++)
            {
                yield return new SourceDocument(
                    values[i] ?? throw new SharpGptException($"{file}: row {firstRow + i + 1} has a null \"{TextField}\"."),
                    file, firstRow + i + 1);
            }
        }
    }

    private static byte[] ReadBytes(string file)
    {
        try
        {
            return File.ReadAllBytes(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new SharpGptException($"{file}: cannot be read ({ex.Message}).", ex);
        }
    }

    /// <summary>Strict UTF-8 decoding; invalid bytes are an error naming the line they are on.</summary>
    private static string Decode(byte[] bytes, string file, long firstLine)
    {
        ReadOnlySpan<byte> content = bytes.AsSpan();
        if (content.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            content = content[3..];
        }
        try
        {
            return StrictUtf8.GetString(content);
        }
        catch (DecoderFallbackException ex)
        {
            int offset = Math.Max(0, ex.Index);
            long line = firstLine + content[..Math.Min(offset, content.Length)].Count((byte)'\n');
            throw new SharpGptException($"{file}:{line}: invalid UTF-8 (byte offset {offset} of this {(firstLine > 1 ? "line" : "file")}).", ex);
        }
    }
}
