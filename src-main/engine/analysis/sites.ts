/** Block sites the analyses read and patch, by their short names, and the hook each names per layer. */
import { hookName } from '../hooks/names';

export const SITE_HOOK = {
  resid_pre: hookName.residPre,
  resid_mid: hookName.residMid,
  resid_post: hookName.residPost,
  attn_out: hookName.attnOut,
  mlp_out: hookName.mlpOut,
  z: hookName.z,
} as const;
