# FDKD on avdigits in both directions at once: an audio student distilled
# from the visual teacher (a_from_v) and a visual student from the audio
# teacher (v_from_a), trained together from one data loader. Teachers come
# from configs/unimodal/r18-w32_1xb32-12e_avdigits-{visual,audio}.py, as in
# the two single-direction configs, whose students this run reproduces.
_base_ = ['../_base_/av/avdigits_kd.py']
model = dict(
    type='fdkd.BidirectionalCrossModalDistill',
    directions=dict(
        a_from_v=dict(
            _base_.audio_from_visual, distiller=_base_.fdkd_distiller),
        # the audio teacher's input (LoadAudio without random_crop, then the
        # spectrogram) is deterministic: its features are computed on the
        # first epoch only. The visual teacher draws a random frame and crop
        # per visit (LoadFrames in training), so a_from_v is not cached.
        v_from_a=dict(
            _base_.visual_from_audio,
            distiller=_base_.fdkd_distiller,
            teacher_cache=dict(type='memory',
                               pipeline=_base_.train_pipeline))))
val_cfg = dict(type='fdkd.BidirectionalValLoop')
test_cfg = dict(type='fdkd.BidirectionalTestLoop')
# keep the checkpoint with the best mean top-1 of the two students
# ('a_from_v/accuracy/top1' selects on one of them)
default_hooks = dict(checkpoint=dict(save_best='mean/accuracy/top1'))
