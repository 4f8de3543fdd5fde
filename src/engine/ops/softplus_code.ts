// shaders/softplus.wgsl (torch's softplus with an accurate log1p), prepended as text to the kernels that use it:
// elementwise and every selective-scan variant, forward and backward.
import code from '../../../shaders/softplus.wgsl?raw';

export const SOFTPLUS_WGSL: string = code;
