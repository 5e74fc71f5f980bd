namespace SharpGpt.Training.FineTuning;

/// <summary>
/// One tokenized example: the ids (prompt, completion, &lt;|endoftext|&gt;) and how many leading ids are prompt.
/// The loss counts only predictions of completion tokens (and the end-of-text), as OpenAI's prompt/completion
/// fine-tuning does; a plain {"text"} example has no prompt and counts every token.
/// </summary>
public sealed record FineTuneExample(int[] Ids, int PromptLength, string Source)
{
    /// <summary>Positions 0 … n−2 predict ids 1 … n−1; targets for prompt tokens are masked (−1).</summary>
    public void Fill(Span<int> inputs, Span<int> targets, int endOfText)
    {
        int n = Ids.Length - 1;
        for (int t = 0; t < inputs.Length; t++)
        {
            if (t < n)
            {
                inputs[t] = Ids[t];
                targets[t] = t + 1 >= PromptLength ? Ids[t + 1] : -1;
            }
            else
            {
                inputs[t] = endOfText; // padding: attended to by nothing real, and carries no loss
                targets[t] = -1;
            }
        }
    }
}
