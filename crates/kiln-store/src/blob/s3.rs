//! Blobs in an S3-compatible bucket through `object_store`.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use tokio::io::AsyncWriteExt;

use super::{BlobMeta, BlobStream};
use crate::error::{Error, Result};

/// Upload buffer: parts of this size go out as a multipart upload; smaller blobs
/// are one PUT. S3's minimum part size is 5 MiB.
const PART: usize = 8 * 1024 * 1024;

#[derive(Debug)]
pub(super) struct S3 {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

impl S3 {
    pub(super) fn open(url: &str) -> Result<S3> {
        let parsed = url::Url::parse(url).map_err(|e| Error::Invalid(format!("blob url: {e}")))?;
        let bucket = parsed
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::Invalid("blob url: no bucket".into()))?;
        let prefix = parsed.path().trim_matches('/').to_owned();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (name, value) in parsed.query_pairs() {
            builder = match name.as_ref() {
                "endpoint" => {
                    let http = value.starts_with("http://");
                    builder.with_endpoint(value.as_ref()).with_allow_http(http)
                }
                "region" => builder.with_region(value.as_ref()),
                "access_key_id" => builder.with_access_key_id(value.as_ref()),
                "secret_access_key" => builder.with_secret_access_key(value.as_ref()),
                "virtual_hosted_style" => builder.with_virtual_hosted_style_request(value == "true"),
                other => return Err(Error::Invalid(format!("blob url: unknown parameter `{other}`"))),
            };
        }
        let store = builder.build().map_err(|e| Error::Invalid(format!("blob url: {e}")))?;
        Ok(S3 { store: Arc::new(store), prefix })
    }

    fn path(&self, key: &str) -> Path {
        if self.prefix.is_empty() { Path::from(key) } else { Path::from(format!("{}/{key}", self.prefix)) }
    }

    fn key_of(&self, path: &Path) -> String {
        let full = path.as_ref();
        if self.prefix.is_empty() {
            full.to_owned()
        } else {
            full.strip_prefix(&format!("{}/", self.prefix)).unwrap_or(full).to_owned()
        }
    }

    pub(super) async fn put(&self, key: &str, mut body: BoxStream<'_, Result<Bytes>>) -> Result<()> {
        let mut writer = BufWriter::with_capacity(Arc::clone(&self.store), self.path(key), PART);
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    // Abandon the multipart upload: the object never appears.
                    let _ = writer.abort().await;
                    return Err(e);
                }
            };
            if let Err(e) = writer.write_all(&chunk).await {
                let _ = writer.abort().await;
                return Err(Error::Blob(e.to_string()));
            }
        }
        writer.shutdown().await.map_err(|e| Error::Blob(e.to_string()))
    }

    pub(super) async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<BlobStream> {
        let options = GetOptions { range: range.map(GetRange::Bounded), ..Default::default() };
        let result = self.store.get_opts(&self.path(key), options).await?;
        Ok(result.into_stream().map_err(Error::from).boxed())
    }

    pub(super) async fn size(&self, key: &str) -> Result<u64> {
        Ok(self.store.head(&self.path(key)).await?.size)
    }

    pub(super) async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<BlobMeta>> {
        let dir_part = prefix.rsplit_once('/').map_or("", |(d, _)| d);
        let base = if dir_part.is_empty() {
            (!self.prefix.is_empty()).then(|| Path::from(self.prefix.as_str()))
        } else {
            Some(self.path(dir_part))
        };
        let metas: Vec<_> = self.store.list(base.as_ref()).try_collect().await?;
        Ok(metas.iter().map(|m| BlobMeta { key: self.key_of(&m.location), size: m.size }).collect())
    }
}
