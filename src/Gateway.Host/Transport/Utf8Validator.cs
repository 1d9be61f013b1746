using System.Text.Unicode;

namespace Gateway.Host.Transport;

/// <summary>
/// Validates a text message as UTF-8 piece by piece, a code point may be split across pieces. Complete code
/// points go through the vectorised <see cref="Utf8.IsValid(ReadOnlySpan{byte})"/>; a trailing incomplete one is
/// checked byte by byte and carried into the next piece. Rejects at the same byte as the platform's socket
/// (an overlong or out-of-range prefix once its deciding byte is in), so both fail on the same receive.
/// </summary>
internal struct Utf8Validator
{
    // Continuation bytes still expected for the code point in progress (0: none in progress).
    private int _needed;
    private int _bits;
    private int _min;

    /// <summary>Validates the next piece; at the end of the message no code point may be left incomplete.</summary>
    public bool Validate(ReadOnlySpan<byte> piece, bool endOfMessage)
    {
        var i = 0;
        while (_needed > 0 && i < piece.Length)
        {
            if (!Continue(piece[i++]))
            {
                return Fail();
            }
        }

        if (_needed > 0)
        {
            return !endOfMessage || Fail();
        }

        var rest = piece[i..];
        if (endOfMessage)
        {
            return Utf8.IsValid(rest) || Fail();
        }

        var tail = IncompleteTail(rest);
        if (!Utf8.IsValid(rest[..tail]))
        {
            return Fail();
        }

        foreach (var b in rest[tail..])
        {
            if (!(_needed == 0 ? Start(b) : Continue(b)))
            {
                return Fail();
            }
        }

        return true;
    }

    /// <summary>Where the last code point starts if it is cut off by the end of <paramref name="span"/>, else its length.</summary>
    private static int IncompleteTail(ReadOnlySpan<byte> span)
    {
        for (var back = 1; back <= 3 && back <= span.Length; back++)
        {
            var b = span[^back];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }

            var length = b switch
            {
                < 0xC0 => 1,
                < 0xE0 => 2,
                < 0xF0 => 3,
                < 0xF8 => 4,
                _ => 1,
            };
            return length > back ? span.Length - back : span.Length;
        }

        return span.Length;
    }

    private bool Start(byte b)
    {
        switch (b)
        {
            case < 0x80:
                return true;
            case < 0xC0:
                return false;
            case < 0xE0:
                (_needed, _bits, _min) = (1, b & 0x1F, 0x80);
                return true;
            case < 0xF0:
                (_needed, _bits, _min) = (2, b & 0x0F, 0x800);
                return true;
            case < 0xF8:
                (_needed, _bits, _min) = (3, b & 0x07, 0x10000);
                return true;
            default:
                return false;
        }
    }

    private bool Continue(byte b)
    {
        if ((b & 0xC0) != 0x80)
        {
            return false;
        }

        _bits = (_bits << 6) | (b & 0x3F);
        _needed--;
        return _needed switch
        {
            // A surrogate (U+D800-DFFF) once its second-last byte is in.
            1 => _bits is < 0x360 or > 0x37F,

            // Above U+10FFFF once the second byte of four is in.
            2 => _bits < 0x110,

            // Overlong once complete.
            0 => _bits >= _min,
            _ => true,
        };
    }

    private bool Fail()
    {
        _needed = 0;
        return false;
    }
}
