namespace SharpGpt.Model.Tokenization;

/// <summary>
/// GPT-2's reversible byte ↔ character map (bytes_to_unicode in OpenAI's encoder.py): printable bytes
/// map to themselves, the other 68 to U+0100 onwards, so every byte string is a string of visible characters.
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = BuildCharToByte();

    public static char ToChar(byte value) => ByteToChar[value];

    public static bool TryToByte(char c, out byte value) => CharToByte.TryGetValue(c, out value);

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var printable = new bool[256];
        for (int b = '!'; b <= '~'; b++)
        {
            printable[b] = true;
        }
        for (int b = 0xA1; b <= 0xAC; b++)
        {
            printable[b] = true;
        }
        for (int b = 0xAE; b <= 0xFF; b++)
        {
            printable[b] = true;
        }
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            map[b] = printable[b] ? (char)b : (char)(256 + next++);
        }
        return map;
    }

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++)
        {
            map[ByteToChar[b]] = (byte)b;
        }
        return map;
    }
}
