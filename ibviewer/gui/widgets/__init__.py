"""Drawing code the views share: style and colours, figure frames and titles, pointer view boxes,
label placement, OpenGL helpers (`glview`, imported only by 3D views) and widget pictures."""
