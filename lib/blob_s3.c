/* blob, the bucket backend over lib/s3. */
#include "blob_impl.h"

int
msp_blob_bucket_open(struct msp_blob *b, const char *conf, struct msp_err *e)
{
	(void)b;
	return msp_err_set(e, MSP_EINVAL, "%s: bucket media is not built in",
	    conf);
}

int
msp_blob_bucket_check(struct msp_blob *b, struct msp_err *e)
{
	(void)b;
	(void)e;
	return 0;
}
