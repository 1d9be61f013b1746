using System.Text;

namespace Gateway.Host.Cluster;

/// <summary>
/// Rendezvous (highest random weight) hashing: a socket belongs to the replica whose weight for it is
/// highest. Every replica computes the same owner from the same member list, and a replica joining or
/// leaving moves only the sockets it wins or held.
/// </summary>
internal static class Rendezvous
{
    /// <summary>The owner of <paramref name="socket"/> among <paramref name="replicas"/>; null when there is none.</summary>
    public static string? Owner(string socket, IReadOnlyList<string> replicas)
    {
        string? owner = null;
        var best = 0UL;
        foreach (var replica in replicas)
        {
            var weight = Weight(socket, replica);

            // Ties (practically never) go to the smaller id, so that the choice does not depend on list order.
            if (owner is null || weight > best || (weight == best && string.CompareOrdinal(replica, owner) < 0))
            {
                owner = replica;
                best = weight;
            }
        }

        return owner;
    }

    /// <summary>A stable 64-bit weight: FNV-1a over the replica id, a separator and the socket name (case-insensitive), then a SplitMix64 finalizer.</summary>
    public static ulong Weight(string socket, string replica)
    {
        var hash = 14695981039346656037UL;
        hash = Add(hash, replica);
        hash = (hash ^ 0xFF) * 1099511628211UL;
        hash = Add(hash, socket.ToUpperInvariant());

        // FNV alone mixes the last bytes poorly; the finalizer spreads every input bit over the whole weight.
        hash ^= hash >> 30;
        hash *= 0xBF58476D1CE4E5B9UL;
        hash ^= hash >> 27;
        hash *= 0x94D049BB133111EBUL;
        hash ^= hash >> 31;
        return hash;
    }

    private static ulong Add(ulong hash, string text)
    {
        Span<byte> buffer = stackalloc byte[256];
        var bytes = Encoding.UTF8.GetByteCount(text) <= buffer.Length ? buffer[..Encoding.UTF8.GetBytes(text, buffer)] : Encoding.UTF8.GetBytes(text);
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }
}
