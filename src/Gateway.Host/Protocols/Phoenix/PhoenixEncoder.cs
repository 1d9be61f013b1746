using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Unicode;

namespace Gateway.Host.Protocols.Phoenix;

/// <summary>
/// Writes what a phoenix.js client sends: pushes (joins, leaves, heartbeats, application events) as v2
/// arrays or v1 objects, and v2 binary pushes. Refs go out as JSON strings of the integer, as
/// phoenix.js sends them; a heartbeat is <c>WritePush(output, format, -1, ref, "phoenix", "heartbeat", "{}"u8)</c>.
/// </summary>
internal static class PhoenixEncoder
{
    private const int MaxHeaderPart = 255;

    // A long in decimal.
    private const int MaxRefLength = 20;

    /// <summary>Writes a push as a text frame.</summary>
    /// <param name="joinRef">The join ref; -1 writes null.</param>
    /// <param name="ref">The message ref; -1 writes null.</param>
    /// <param name="payloadJson">Valid JSON text, written as it is; empty writes <c>{}</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A ref below -1.</exception>
    /// <exception cref="ArgumentException">The topic or event has an unpaired surrogate.</exception>
    public static void WritePush(IBufferWriter<byte> output, PhoenixWireFormat format, long joinRef, long @ref, string topic, string @event, ReadOnlySpan<byte> payloadJson)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(@event);
        ArgumentOutOfRangeException.ThrowIfLessThan(joinRef, -1);
        ArgumentOutOfRangeException.ThrowIfLessThan(@ref, -1);
        if (payloadJson.IsEmpty)
        {
            payloadJson = "{}"u8;
        }

        if (format == PhoenixWireFormat.V1)
        {
            output.Write("{\"topic\":"u8);
            WriteString(output, topic, nameof(topic));
            output.Write(",\"event\":"u8);
            WriteString(output, @event, nameof(@event));
            output.Write(",\"payload\":"u8);
            output.Write(payloadJson);
            output.Write(",\"ref\":"u8);
            WriteRef(output, @ref);
            output.Write(",\"join_ref\":"u8);
            WriteRef(output, joinRef);
            output.Write("}"u8);
            return;
        }

        output.Write("["u8);
        WriteRef(output, joinRef);
        output.Write(","u8);
        WriteRef(output, @ref);
        output.Write(","u8);
        WriteString(output, topic, nameof(topic));
        output.Write(","u8);
        WriteString(output, @event, nameof(@event));
        output.Write(","u8);
        output.Write(payloadJson);
        output.Write("]"u8);
    }

    /// <summary>Writes a v2 binary push: <c>[0][join_ref size][ref size][topic size][event size]</c>, the four parts in UTF-8, then the payload.</summary>
    /// <param name="joinRef">The join ref; -1 writes it empty (null to the server).</param>
    /// <param name="ref">The message ref; -1 writes it empty.</param>
    /// <exception cref="ArgumentOutOfRangeException">A ref below -1.</exception>
    /// <exception cref="ArgumentException">The topic or event is longer than 255 bytes in UTF-8, or has an unpaired surrogate: check with <see cref="FitsBinaryHeader"/>.</exception>
    public static void WriteBinaryPush(IBufferWriter<byte> output, long joinRef, long @ref, string topic, string @event, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(@event);
        ArgumentOutOfRangeException.ThrowIfLessThan(joinRef, -1);
        ArgumentOutOfRangeException.ThrowIfLessThan(@ref, -1);

        const int HeaderLength = 5;
        Span<byte> header = stackalloc byte[HeaderLength + (2 * MaxRefLength) + (2 * MaxHeaderPart)];
        var offset = HeaderLength;
        header[0] = 0;
        header[1] = (byte)FormatRef(joinRef, header, ref offset);
        header[2] = (byte)FormatRef(@ref, header, ref offset);
        header[3] = (byte)EncodeHeaderPart(topic, header, ref offset, nameof(topic));
        header[4] = (byte)EncodeHeaderPart(@event, header, ref offset, nameof(@event));
        output.Write(header[..offset]);
        output.Write(payload);
    }

    /// <summary>Whether <see cref="WriteBinaryPush"/> can write this header: refs of -1 or more, topic and event valid UTF-16 of at most 255 bytes in UTF-8.</summary>
    public static bool FitsBinaryHeader(long joinRef, long @ref, string topic, string @event)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentNullException.ThrowIfNull(@event);
        Span<byte> buffer = stackalloc byte[MaxHeaderPart];
        return joinRef >= -1 && @ref >= -1
            && Utf8.FromUtf16(topic, buffer, out _, out _, replaceInvalidSequences: false) == OperationStatus.Done
            && Utf8.FromUtf16(@event, buffer, out _, out _, replaceInvalidSequences: false) == OperationStatus.Done;
    }

    private static void WriteRef(IBufferWriter<byte> output, long value)
    {
        if (value < 0)
        {
            output.Write("null"u8);
            return;
        }

        var span = output.GetSpan(MaxRefLength + 2);
        span[0] = (byte)'"';
        Utf8Formatter.TryFormat(value, span[1..], out var written);
        span[written + 1] = (byte)'"';
        output.Advance(written + 2);
    }

    private static int FormatRef(long value, Span<byte> header, ref int offset)
    {
        var written = 0;
        if (value >= 0)
        {
            Utf8Formatter.TryFormat(value, header[offset..], out written);
        }

        offset += written;
        return written;
    }

    private static int EncodeHeaderPart(string value, Span<byte> header, ref int offset, string paramName)
    {
        var status = Utf8.FromUtf16(value, header.Slice(offset, MaxHeaderPart), out _, out var written, replaceInvalidSequences: false);
        if (status == OperationStatus.DestinationTooSmall)
        {
            throw new ArgumentException($"The {paramName} is longer than {MaxHeaderPart} bytes in UTF-8, the most a binary frame can carry.", paramName);
        }

        if (status != OperationStatus.Done)
        {
            throw new ArgumentException($"The {paramName} has an unpaired surrogate.", paramName);
        }

        offset += written;
        return written;
    }

    /// <summary>A JSON string: quotes, backslashes and control characters escaped, the rest in UTF-8.</summary>
    private static void WriteString(IBufferWriter<byte> output, string value, string paramName)
    {
        // Enough for any one step below: a \u00XX escape or a four-byte scalar.
        const int MinFree = 6;
        var chars = value.AsSpan();
        var span = output.GetSpan(Math.Max(MinFree, chars.Length + 2));
        span[0] = (byte)'"';
        var pos = 1;
        while (!chars.IsEmpty)
        {
            if (span.Length - pos < MinFree)
            {
                output.Advance(pos);
                span = output.GetSpan(Math.Max(MinFree, chars.Length + 1));
                pos = 0;
            }

            var plain = chars.IndexOfAnyExcept(s_plain);
            if (plain != 0)
            {
                var run = Math.Min(plain < 0 ? chars.Length : plain, span.Length - pos);
                Ascii.FromUtf16(chars[..run], span[pos..], out _);
                pos += run;
                chars = chars[run..];
                continue;
            }

            var c = chars[0];
            if (c < 0x80)
            {
                pos += WriteEscape(c, span[pos..]);
                chars = chars[1..];
                continue;
            }

            if (Rune.DecodeFromUtf16(chars, out var rune, out var consumed) != OperationStatus.Done)
            {
                throw new ArgumentException($"The {paramName} has an unpaired surrogate.", paramName);
            }

            pos += rune.EncodeToUtf8(span[pos..]);
            chars = chars[consumed..];
        }

        if (span.Length - pos < 1)
        {
            output.Advance(pos);
            span = output.GetSpan(1);
            pos = 0;
        }

        span[pos] = (byte)'"';
        output.Advance(pos + 1);
    }

    private static int WriteEscape(char c, Span<byte> destination)
    {
        destination[0] = (byte)'\\';
        var shortForm = c switch
        {
            '"' => '"',
            '\\' => '\\',
            '\b' => 'b',
            '\f' => 'f',
            '\n' => 'n',
            '\r' => 'r',
            '\t' => 't',
            _ => '\0',
        };
        if (shortForm != '\0')
        {
            destination[1] = (byte)shortForm;
            return 2;
        }

        // Another control character.
        "u00"u8.CopyTo(destination[1..]);
        destination[4] = (byte)HexDigit(c >> 4);
        destination[5] = (byte)HexDigit(c & 0xF);
        return 6;
    }

    private static char HexDigit(int value) => (char)(value < 10 ? '0' + value : 'a' + value - 10);

    // ASCII but control characters, the quote and the backslash: copied as they are (DEL too, as JSON.stringify does).
    private static readonly SearchValues<char> s_plain = SearchValues.Create(
        " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~\u007f");
}
