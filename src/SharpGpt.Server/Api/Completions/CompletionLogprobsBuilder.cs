using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Scoring;
using SharpGpt.Server.Hosting;

namespace SharpGpt.Server.Api.Completions;

/// <summary>
/// Builds the legacy logprobs object: token strings, their log-probabilities (null for the first prompt token),
/// the top alternatives as {token: logprob}, and each token's character offset in prompt + completion.
/// </summary>
public sealed class CompletionLogprobsBuilder(ServedModel model)
{
    private readonly List<string> _tokens = [];
    private readonly List<double?> _logprobs = [];
    private readonly List<IReadOnlyDictionary<string, double>?> _top = [];
    private readonly List<int> _offsets = [];

    public int Offset { get; set; }

    public string TokenText(int id) => model.Model.Tokenizer?.TokenText(id) ?? id.ToString();

    public CompletionLogprobsBuilder AddPrompt(int[] prompt, IReadOnlyList<TokenScore?>? scores)
    {
        for (int i = 0; i < prompt.Length; i++)
        {
            TokenScore? score = scores != null && i < scores.Count ? scores[i] : null;
            Add(prompt[i], score?.Logprob, i == 0 ? null : score?.Top);
        }
        return this;
    }

    public CompletionLogprobsBuilder AddGenerated(GenerationEvent token)
    {
        Add(token.Token, token.Logprob, token.TopLogprobs ?? []);
        return this;
    }

    private void Add(int id, double? logprob, IReadOnlyList<TokenLogprob>? top)
    {
        string text = TokenText(id);
        _tokens.Add(text);
        _logprobs.Add(logprob);
        _offsets.Add(Offset);
        Offset += text.Length;
        if (top == null)
        {
            _top.Add(null);
            return;
        }
        var dictionary = new Dictionary<string, double>();
        foreach (TokenLogprob alternative in top)
        {
            dictionary.TryAdd(TokenText(alternative.Token), alternative.Logprob);
        }
        _top.Add(dictionary);
    }

    public CompletionLogprobs Build() => new(_tokens.ToArray(), _logprobs.ToArray(), _top.ToArray(), _offsets.ToArray());
}
