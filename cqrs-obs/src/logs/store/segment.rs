//! Segment files: an 8-byte magic, then blocks (header, payload), append-only. Opening a
//! segment reads the block headers back (skipping payloads) and cuts a torn tail left by a
//! crash, so the index survives restarts without a file of its own.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::block::{BlockMeta, HEADER_BYTES};

const FILE_MAGIC: &[u8; 8] = b"CQOBSLG2";
/// The extension of segment files.
pub(crate) const EXTENSION: &str = "seg";

/// One segment file and the headers of its blocks.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) path: PathBuf,
    file: File,
    pub(crate) blocks: Vec<BlockMeta>,
    pub(crate) bytes: u64,
}

impl Segment {
    /// A new empty segment named after the first sequence number it will hold.
    pub(crate) fn create(dir: &Path, first_seq: u64) -> io::Result<Segment> {
        let path = dir.join(format!("{first_seq:020}.{EXTENSION}"));
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&path)?;
        file.write_all(FILE_MAGIC)?;
        Ok(Segment {
            path,
            file,
            blocks: Vec::new(),
            bytes: FILE_MAGIC.len() as u64,
        })
    }

    /// Opens an existing segment, reading its block headers and cutting a torn tail.
    pub(crate) fn open(path: &Path) -> io::Result<Segment> {
        let mut file = OpenOptions::new().read(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        let mut magic = [0u8; 8];
        if size < 8 || file.read_exact(&mut magic).is_err() || &magic != FILE_MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a cqrs-obs log segment",
            ));
        }
        let mut blocks = Vec::new();
        let mut at = FILE_MAGIC.len() as u64;
        let mut header = vec![0u8; HEADER_BYTES];
        while at + HEADER_BYTES as u64 <= size {
            file.seek(SeekFrom::Start(at))?;
            if file.read_exact(&mut header).is_err() {
                break;
            }
            let Some(meta) = BlockMeta::parse(&header, at + HEADER_BYTES as u64) else {
                // A whole header that does not parse is damage, not a torn write: keep the
                // file as it is and leave it out.
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad block header at offset {at}"),
                ));
            };
            let end = meta.offset + u64::from(meta.len);
            if end > size {
                break;
            }
            at = end;
            blocks.push(meta);
        }
        if at < size {
            // A block cut short by a crash: drop it so appends continue from a clean end.
            file.set_len(at)?;
        }
        Ok(Segment {
            path: path.to_path_buf(),
            file,
            blocks,
            bytes: at,
        })
    }

    /// Appends a finished block (one write), optionally syncing it to disk.
    pub(crate) fn append(
        &mut self,
        mut meta: BlockMeta,
        payload: &[u8],
        fsync: bool,
    ) -> io::Result<()> {
        meta.offset = self.bytes + HEADER_BYTES as u64;
        let mut buf = meta.header();
        buf.extend_from_slice(payload);
        self.file.write_all(&buf)?;
        if fsync {
            self.file.sync_data()?;
        }
        self.bytes += buf.len() as u64;
        self.blocks.push(meta);
        Ok(())
    }

    /// Reads a block's payload.
    pub(crate) fn payload(&self, meta: &BlockMeta) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; meta.len as usize];
        self.file.read_exact_at(&mut buf, meta.offset)?;
        Ok(buf)
    }

    pub(crate) fn min_ts(&self) -> u64 {
        self.blocks
            .iter()
            .map(|b| b.min_ts)
            .min()
            .unwrap_or(u64::MAX)
    }

    pub(crate) fn max_ts(&self) -> u64 {
        self.blocks.iter().map(|b| b.max_ts).max().unwrap_or(0)
    }

    pub(crate) fn max_seq(&self) -> Option<u64> {
        self.blocks.last().map(|b| b.max_seq)
    }

    pub(crate) fn entries(&self) -> u64 {
        self.blocks.iter().map(|b| u64::from(b.count)).sum()
    }
}
