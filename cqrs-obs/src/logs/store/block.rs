//! Blocks: a run of encoded entries with a header that lets a search skip it — time range,
//! sequence range, level mask and a Bloom filter over trace, correlation and aggregate ids.

use crate::logs::entry::LogEntry;

use super::codec;

/// Bits of a block's Bloom filter.
const BLOOM_BITS: usize = 4096;
const BLOOM_WORDS: usize = BLOOM_BITS / 64;
const PROBES: u64 = 4;
/// A block is closed once its payload reaches this size.
pub(crate) const BLOCK_BYTES: usize = 16 * 1024;
const MAGIC: u32 = 0x314B_4C42; // "BLK1"
/// Bytes of a block header on disk.
pub(crate) const HEADER_BYTES: usize = 4 + 4 + 4 + 4 + 8 * 4 + BLOOM_WORDS * 8;

/// A Bloom filter over ids.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Bloom(Box<[u64; BLOOM_WORDS]>);

impl std::fmt::Debug for Bloom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set: u32 = self.0.iter().map(|w| w.count_ones()).sum();
        write!(f, "Bloom({set} bits set)")
    }
}

/// A fast hash of an id's bytes, eight at a time, with a tag so that a trace id and an equal
/// correlation id differ. Persisted in the filters: changing it needs a new file version.
pub(crate) fn key_hash(tag: u8, bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(tag) ^ ((bytes.len() as u64) << 8);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        h = (h ^ word).wrapping_mul(K).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// Tags of the id kinds in the filter.
pub(crate) const TRACE: u8 = 1;
pub(crate) const CORRELATION: u8 = 2;
pub(crate) const AGGREGATE: u8 = 3;

impl Bloom {
    pub(crate) fn new() -> Bloom {
        Bloom(Box::new([0; BLOOM_WORDS]))
    }

    fn probes(hash: u64) -> impl Iterator<Item = usize> {
        let (h1, h2) = (hash, (hash >> 32) | 1);
        (0..PROBES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % BLOOM_BITS as u64) as usize)
    }

    pub(crate) fn insert(&mut self, hash: u64) {
        for bit in Self::probes(hash) {
            self.0[bit / 64] |= 1 << (bit % 64);
        }
    }

    pub(crate) fn may_contain(&self, hash: u64) -> bool {
        Self::probes(hash).all(|bit| self.0[bit / 64] & (1 << (bit % 64)) != 0)
    }
}

/// What a search needs to know about a block without reading it.
#[derive(Debug, Clone)]
pub(crate) struct BlockMeta {
    /// Offset of the payload in the segment file.
    pub(crate) offset: u64,
    pub(crate) len: u32,
    pub(crate) count: u32,
    pub(crate) levels: u8,
    pub(crate) min_ts: u64,
    pub(crate) max_ts: u64,
    pub(crate) min_seq: u64,
    pub(crate) max_seq: u64,
    pub(crate) bloom: Bloom,
}

impl BlockMeta {
    fn empty() -> BlockMeta {
        BlockMeta {
            offset: 0,
            len: 0,
            count: 0,
            levels: 0,
            min_ts: u64::MAX,
            max_ts: 0,
            min_seq: u64::MAX,
            max_seq: 0,
            bloom: Bloom::new(),
        }
    }

    /// The header as written before the payload.
    pub(crate) fn header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_BYTES);
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&u32::from(self.levels).to_le_bytes());
        for v in [self.min_ts, self.max_ts, self.min_seq, self.max_seq] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for w in self.bloom.0.iter() {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Parses a header; `offset` is where its payload starts.
    pub(crate) fn parse(header: &[u8], offset: u64) -> Option<BlockMeta> {
        let u32_at = |i: usize| {
            header
                .get(i..i + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
        };
        let u64_at = |i: usize| {
            header
                .get(i..i + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        };
        if header.len() < HEADER_BYTES || u32_at(0)? != MAGIC {
            return None;
        }
        let mut bloom = Bloom::new();
        for (i, w) in bloom.0.iter_mut().enumerate() {
            *w = u64_at(48 + i * 8)?;
        }
        Some(BlockMeta {
            offset,
            len: u32_at(4)?,
            count: u32_at(8)?,
            levels: u32_at(12)? as u8,
            min_ts: u64_at(16)?,
            max_ts: u64_at(24)?,
            min_seq: u64_at(32)?,
            max_seq: u64_at(40)?,
            bloom,
        })
    }
}

/// The block being filled.
#[derive(Debug)]
pub(crate) struct Builder {
    pub(crate) meta: BlockMeta,
    pub(crate) payload: Vec<u8>,
    /// When the first entry went in (for the age-based flush).
    pub(crate) opened: Option<std::time::Instant>,
    ids: codec::IdCache,
}

impl Builder {
    pub(crate) fn new() -> Builder {
        Builder {
            meta: BlockMeta::empty(),
            payload: Vec::with_capacity(BLOCK_BYTES + 1024),
            opened: None,
            ids: codec::IdCache::new(),
        }
    }

    pub(crate) fn push(&mut self, entry: &LogEntry) {
        let m = &mut self.meta;
        let ts = entry.timestamp.nanos();
        m.count += 1;
        m.levels |= entry.level.bit();
        m.min_ts = m.min_ts.min(ts);
        m.max_ts = m.max_ts.max(ts);
        m.min_seq = m.min_seq.min(entry.seq);
        m.max_seq = m.max_seq.max(entry.seq);
        if let Some(trace) = entry.trace_id {
            m.bloom.insert(key_hash(TRACE, &trace.to_bytes()));
        }
        let (correlation, aggregate) = codec::encode(entry, &mut self.payload, &mut self.ids);
        if let Some(c) = correlation {
            m.bloom.insert(key_hash(CORRELATION, &self.payload[c]));
        }
        if let Some(a) = aggregate {
            m.bloom.insert(key_hash(AGGREGATE, &self.payload[a]));
        }
        self.opened.get_or_insert_with(std::time::Instant::now);
    }

    pub(crate) fn is_full(&self) -> bool {
        self.payload.len() >= BLOCK_BYTES
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.meta.count == 0
    }

    /// Takes the finished block, leaving an empty one.
    pub(crate) fn take(&mut self) -> (BlockMeta, Vec<u8>) {
        let mut meta = std::mem::replace(&mut self.meta, BlockMeta::empty());
        meta.len = self.payload.len() as u32;
        self.opened = None;
        let payload = std::mem::replace(&mut self.payload, Vec::with_capacity(BLOCK_BYTES + 1024));
        (meta, payload)
    }
}
