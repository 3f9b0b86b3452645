"""Pictures of widgets with their OpenGL views drawn in, and whether the platform has OpenGL.

No OpenGL import here: 2D figures and the clipboard use it too.
"""

from __future__ import annotations

from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

__all__ = ["grab_with_gl", "opengl_available"]


def grab_with_gl(widget: QWidget) -> QImage:
    """A picture of ``widget`` with every OpenGL view inside it drawn from its own framebuffer.

    ``QWidget.grab`` includes the GL scene but drops what GL items paint with QPainter
    (``GLTextItem`` labels); each view's ``grabFramebuffer`` has everything.
    """
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QPainter
    from PySide6.QtOpenGLWidgets import QOpenGLWidget

    image = widget.grab().toImage()
    painter = QPainter(image)
    try:
        for child in widget.findChildren(QOpenGLWidget):
            if child.isVisible() and child.width() > 0 and child.height() > 0:
                frame = child.grabFramebuffer()
                frame.setDevicePixelRatio(image.devicePixelRatio())
                painter.drawImage(child.mapTo(widget, QPoint(0, 0)), frame)
    finally:
        painter.end()
    return image


def opengl_available() -> tuple[bool, str]:
    """Whether 3D views can work on this Qt platform, and why not."""
    from PySide6.QtGui import QGuiApplication

    platform = QGuiApplication.platformName()
    if platform in ("offscreen", "minimal"):
        return False, f"Qt platform {platform!r} has no OpenGL; run under X (e.g. Xvfb) with QT_QPA_PLATFORM=xcb"
    return True, ""
