namespace SharpGpt.Inference.Generation;

/// <summary>
/// Finds stop sequences in streamed text. Text that could still turn out to be the start of a stop
/// sequence is held back, so a streaming client never receives part of a stop sequence; when one
/// completes, the text before it is released and the match is reported (the stop text itself is dropped,
/// as in the OpenAI API).
/// </summary>
public sealed class StopSequenceMatcher
{
    private readonly string[] _stops;
    private string _pending = "";

    public StopSequenceMatcher(IEnumerable<string> stops)
    {
        _stops = stops.Where(s => s.Length > 0).Distinct().ToArray();
    }

    public bool Stopped { get; private set; }

    /// <summary>Adds new text; returns the text that is safe to emit now.</summary>
    public string Push(string text)
    {
        if (Stopped)
        {
            return "";
        }
        _pending += text;
        if (_stops.Length == 0)
        {
            string all = _pending;
            _pending = "";
            return all;
        }
        int earliest = -1;
        foreach (string stop in _stops)
        {
            int at = _pending.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (earliest < 0 || at < earliest))
            {
                earliest = at;
            }
        }
        if (earliest >= 0)
        {
            Stopped = true;
            string before = _pending[..earliest];
            _pending = "";
            return before;
        }
        // Hold back the longest suffix that is a proper prefix of some stop sequence.
        int hold = 0;
        foreach (string stop in _stops)
        {
            for (int length = Math.Min(stop.Length - 1, _pending.Length); length > hold; length--)
            {
                if (_pending.AsSpan(_pending.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    hold = length;
                    break;
                }
            }
        }
        string ready = _pending[..^hold];
        _pending = _pending[^hold..];
        return ready;
    }

    /// <summary>Releases held-back text at the end of generation (it did not become a stop sequence).</summary>
    public string Flush()
    {
        string rest = Stopped ? "" : _pending;
        _pending = "";
        return rest;
    }
}
