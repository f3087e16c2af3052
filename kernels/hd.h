/* hd.h: KERN_HD marks a static inline function that the CPU kernels and
 * their CUDA twins share (nvcc compiles it for host and device), so both
 * backends run the same maths. */
#ifndef KERN_HD_H
#define KERN_HD_H

#ifdef __CUDACC__
#define KERN_HD __host__ __device__
#else
#define KERN_HD
#endif

#endif
