using System.Text;
using SharpGpt.Model.Tokenization;

namespace SharpGpt.Inference.Generation;

/// <summary>
/// Turns a stream of token ids into text without ever splitting a multi-byte UTF-8 character: bytes of an
/// incomplete character wait until the token that completes it arrives (an emoji often spans two tokens).
/// </summary>
public sealed class IncrementalDecoder
{
    private readonly Gpt2Tokenizer _tokenizer;
    private readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    private readonly char[] _chars = new char[1024];

    public IncrementalDecoder(Gpt2Tokenizer tokenizer) => _tokenizer = tokenizer;

    /// <summary>The text that became complete with this token (possibly empty).</summary>
    public string Push(int token)
    {
        ReadOnlySpan<byte> bytes = _tokenizer.TokenBytes(token);
        var builder = new StringBuilder();
        while (!bytes.IsEmpty)
        {
            int take = Math.Min(bytes.Length, 256);
            int written = _decoder.GetChars(bytes[..take], _chars, flush: false);
            builder.Append(_chars, 0, written);
            bytes = bytes[take..];
        }
        return builder.ToString();
    }

    /// <summary>Whatever is still pending, with an incomplete character shown as U+FFFD.</summary>
    public string Flush()
    {
        int written = _decoder.GetChars([], _chars, flush: true);
        return new string(_chars, 0, written);
    }
}
